import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { createSecretBox, loadSecretKey, parseSecretKey } from '../../src/crypto/secret-box.js'

t.test('seals and opens; every seal differs; tampering is detected', async (t) => {
  const box = createSecretBox(randomBytes(32))
  const a = box.seal('whsec_abc')
  const b = box.seal('whsec_abc')
  t.not(a, b, 'a fresh IV per seal')
  t.notOk(a.includes('whsec_abc'))
  t.equal(box.open(a), 'whsec_abc')
  const parts = a.split('.')
  const body = Buffer.from(parts[3]!, 'base64url')
  body[0]! ^= 1
  t.throws(() => box.open([...parts.slice(0, 3), body.toString('base64url')].join('.')), 'a changed byte fails authentication')
  t.throws(() => createSecretBox(randomBytes(32)).open(a), 'another key cannot open it')
})

t.test('TOKENLEDGER_SECRET_KEY: 32 bytes as hex or base64, anything else refused by the config', async (t) => {
  const key = randomBytes(32)
  t.same(parseSecretKey(key.toString('hex')), key)
  t.same(parseSecretKey(key.toString('base64')), key)
  t.same(parseSecretKey(key.toString('base64url')), key)
  for (const bad of ['', 'short', randomBytes(16).toString('hex'), randomBytes(31).toString('base64'), 'z'.repeat(64)]) t.equal(parseSecretKey(bad), undefined, bad)
  t.throws(() => loadConfig({ TOKENLEDGER_SECRET_KEY: 'nope' }), /TOKENLEDGER_SECRET_KEY/)
  t.equal(loadConfig({ TOKENLEDGER_SECRET_KEY: key.toString('hex') }).TOKENLEDGER_SECRET_KEY, key.toString('hex'))
})

t.test('where the key comes from', async (t) => {
  const configured = randomBytes(32)
  t.same(loadSecretKey({ configured: configured.toString('hex'), postgres: true, dataDir: '/nonexistent' }), configured)
  t.equal(loadSecretKey({ postgres: true, dataDir: '/nonexistent' }), undefined, 'PostgreSQL without a key: none')
  t.equal(loadSecretKey({ postgres: false, dataDir: 'memory://' })?.length, 32, 'memory://: one per process')
  const dir = mkdtempSync(join(tmpdir(), 'tl-secret-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = loadSecretKey({ postgres: false, dataDir: dir })
  const path = join(dir, 'secret.key')
  t.equal(statSync(path).mode & 0o777, 0o600, 'generated with mode 0600')
  t.same(loadSecretKey({ postgres: false, dataDir: dir }), first, 'generated once, then read')
  t.same(parseSecretKey(readFileSync(path, 'utf8')), first)
})
