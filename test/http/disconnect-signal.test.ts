import { once } from 'node:events'
import { connect, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import t from 'tap'
import { disconnectSignal } from '../../src/http/disconnect-signal.js'
import { waitFor } from '../helpers.js'

// A report's statements are cancelled (or never sent) when its client leaves: the signal aborts on the
// response's 'close'. A client that left before the handler asked for the signal — while its key was looked
// up or its request waited on a lock — had had its 'close' emitted already, the signal never aborted, and
// the report's statement ran for nobody (seen: a CSV export's cursor waiting on a lock, holding an export slot).

t.test('the signal of a request whose client left, is still there, or was answered', async (t) => {
  const server = Fastify()
  const seen: { url: string; abortedAtStart: boolean; signal: AbortSignal }[] = []
  server.addHook('onRequest', async (req) => {
    // The auth lookup that outlives its client, made deterministic: wait until the socket is gone.
    if (req.url === '/left') await waitFor('the client to leave', () => req.raw.socket.destroyed, { timeoutMs: 30_000, everyMs: 10 })
  })
  server.get('/*', async (req, reply) => {
    const signal = disconnectSignal(reply)
    seen.push({ url: req.url, abortedAtStart: signal.aborted, signal })
    if (req.url === '/hold') await new Promise((r) => signal.addEventListener('abort', r, { once: true }))
    return 'ok'
  })
  await server.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => server.close())
  const { port } = server.server.address() as AddressInfo
  const send = async (path: string) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    await once(socket, 'connect')
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`)
    return socket
  }
  const of = (url: string) => waitFor(`the handler of ${url}`, () => seen.find((s) => s.url === url), { timeoutMs: 30_000 })

  const left = await send('/left')
  // Gone once the server has the request: its hook is then waiting for exactly this.
  await waitFor('the server to hold the request', async () => (await new Promise<number>((r) => server.server.getConnections((_, n) => r(n)))) === 1)
  left.destroy()
  t.equal((await of('/left')).abortedAtStart, true, 'a client that left before the handler: aborted at once')

  const staying = await send('/hold')
  const hold = await of('/hold')
  t.equal(hold.abortedAtStart, false, 'a client that is still there: not aborted')
  staying.destroy()
  await waitFor('the signal to abort when the client leaves mid-answer', () => hold.signal.aborted, { timeoutMs: 30_000 })
  t.pass('aborted when it leaves mid-answer')

  const answered = await send('/answered')
  let text = ''
  answered.on('data', (d: Buffer) => (text += d.toString()))
  await waitFor('the answer', () => text.endsWith('ok'), { timeoutMs: 30_000 })
  answered.destroy()
  await once(answered, 'close')
  const done = await of('/answered')
  t.equal(done.signal.aborted, false, 'an answered request is not aborted when its connection closes afterwards')
})
