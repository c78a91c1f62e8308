import t from 'tap'
import { ProblemError } from '../../src/errors.js'
import { createTenantGate } from '../../src/usage/tenant-gate.js'

t.test('a tenant runs at most its share; waiters get slots in arrival order; others are not held up', async (t) => {
  const gate = createTenantGate({ perTenant: 2, maxWaitMs: 1000 })
  const r1 = await gate.acquire('a')
  const r2 = await gate.acquire('a')
  const order: number[] = []
  const w3 = gate.acquire('a').then((r) => { order.push(3); return r })
  const w4 = gate.acquire('a').then((r) => { order.push(4); return r })
  const other = await gate.acquire('b')
  t.equal(gate.running('b'), 1, 'tenant b is not held up by a')
  r1()
  r1() // releasing twice gives back one slot only
  const r3 = await w3
  t.same(order, [3])
  r2()
  const r4 = await w4
  t.same(order, [3, 4])
  t.equal(gate.running('a'), 2)
  r3()
  r4()
  other()
  t.equal(gate.running('a'), 0)
})

t.test('a waiter that waits too long gets a 429 problem with Retry-After, and leaves the queue', async (t) => {
  const gate = createTenantGate({ perTenant: 1, maxWaitMs: 50 })
  const r1 = await gate.acquire('a')
  const err = await gate.acquire('a').catch((e: unknown) => e)
  t.ok(err instanceof ProblemError && err.statusCode === 429 && err.headers['retry-after'] === '1')
  r1()
  t.equal(gate.running('a'), 0, 'the timed-out waiter did not take the slot')
  await gate.run('a', async () => t.equal(gate.running('a'), 1))
})
