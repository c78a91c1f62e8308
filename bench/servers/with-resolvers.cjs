// PostGraphile 5 declares Node >= 22 and uses Promise.withResolvers (Node 22); on Node 20 every query
// fails without it. Preloaded with --require into the PostGraphile baseline process only.
Promise.withResolvers ??= function withResolvers() {
  let resolve, reject
  const promise = new this((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}
