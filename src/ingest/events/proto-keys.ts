import { problems, type ProblemError } from '../../errors.js'
import type { FieldProblem } from '../token-classes.js'
import { MAX_JSON_DEPTH } from '../values.js'

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const PROTO = 'is a key named "__proto__", which no JSON body may hold (it would replace an object\'s prototype): rename it'
const CONSTRUCTOR = 'is a "prototype" key inside a "constructor" key, which no JSON body may hold (prototype pollution): rename either'

/*
 * The keys the JSON parser's proto-poisoning protection refuses in every other body (secure-json-parse's
 * rules: `__proto__`, and `constructor` holding `prototype`). `POST /v1/usage/events` is parsed keeping
 * them — as own data properties, which JSON.parse defines and never assigns, so no prototype changes — so
 * that one inside an event rejects that event, not the request. Found on the body as sent, before anything
 * copies it (zod drops a record's `__proto__` without a word). Nesting past MAX_JSON_DEPTH is not walked
 * (it rejects the event, or the body, anyway).
 */

/**
 * Such keys anywhere inside one event, by path, at most `limit` + 1 of them: the walk stops at the one past
 * `limit` (which only says there are more), since one event can hold millions (an array of `{"__proto__":0}`
 * took seconds to list). The event's own members are left to its schema (an unknown member is named as one).
 */
export function protoKeyProblems(item: unknown, limit: number): FieldProblem[] {
  const out: FieldProblem[] = []
  if (isObject(item)) for (const [key, value] of Object.entries(item)) if (walk(value, [key], out, 1, limit)) break
  return out
}

/** Such keys in an events body outside its `events` items (which answer for their own), as protoKeyProblems lists them: the body is refused for them. */
export function envelopeProtoKeys(body: unknown, limit: number): FieldProblem[] {
  const out: FieldProblem[] = []
  if (!isObject(body)) return out
  for (const [key, value] of Object.entries(body)) {
    if (member(key, value, [], out, limit)) break
    if ((key !== 'events' || !Array.isArray(value)) && walk(value, [key], out, 1, limit)) break
  }
  return out
}

/** Such keys anywhere in a body, as protoKeyProblems lists them: for the routes that refuse the whole body for one. */
export function bodyProtoKeys(body: unknown, limit: number): FieldProblem[] {
  const out: FieldProblem[] = []
  walk(body, [], out, 0, limit)
  return out
}

/**
 * The 400 for a body holding such keys (found by bodyProtoKeys or envelopeProtoKeys, paths relative to the
 * body): each named by its path under `body`, with the array index the contract names items by
 * (`{buckets: [...]}`), at most `limit` and one item saying there are more.
 */
export function protoKeysRefusal(found: FieldProblem[], limit: number): ProblemError {
  const listed = found.slice(0, limit).map((p) => {
    const index = /^[^.]+\.(\d+)(\.|$)/.exec(p.path)
    return index ? { index: Number(index[1]), path: `body.${p.path}`, message: p.message } : { path: `body.${p.path}`, message: p.message }
  })
  if (found.length > limit)
    listed.push({ path: 'body', message: `and more such keys, not listed: at most ${limit} are listed, and the body was not searched for more` })
  return problems.validation(listed, 'the body is valid JSON but holds keys no JSON body may hold (`__proto__`, or `constructor` holding `prototype`: prototype pollution); nothing was written')
}

/** Whether `out` is full: it holds one problem past `limit`. */
function member(key: string, value: unknown, parent: string[], out: FieldProblem[], limit: number): boolean {
  const path = [...parent, key].join('.')
  if (key === '__proto__') out.push({ path, message: PROTO })
  else if (key === 'constructor' && isObject(value) && Object.hasOwn(value, 'prototype')) out.push({ path: `${path}.prototype`, message: CONSTRUCTOR })
  return out.length > limit
}

/** Whether `out` is full, and the walk stopped: it holds one problem past `limit`. */
function walk(node: unknown, path: string[], out: FieldProblem[], depth: number, limit: number): boolean {
  if (typeof node !== 'object' || node === null || depth >= MAX_JSON_DEPTH) return false
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      path.push(String(i))
      const full = walk(node[i], path, out, depth + 1, limit)
      path.pop()
      if (full) return true
    }
    return false
  }
  for (const [key, value] of Object.entries(node)) {
    if (member(key, value, path, out, limit)) return true
    path.push(key)
    const full = walk(value, path, out, depth + 1, limit)
    path.pop()
    if (full) return true
  }
  return false
}
