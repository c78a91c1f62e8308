import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { runCli } from './run-cli.js'

// Plain (non-TTY) progress printed its last line twice when the file arrived in one chunk: the one
// chunk printed a 100% line, then the end of the file printed the same line again as the final one.

/** A server that reads the whole upload and answers a summary (what the CLI needs of /v1/me and the import). */
async function receiver() {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(req.url === '/v1/me' ? '{"tenant_id":"acme"}' : '{"received":2,"skipped":0,"created":2,"replaced":0,"unchanged":0}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

const progressLines = (stderr: string) => stderr.split('\n').filter((l) => /^import: \S+ rows, /.test(l))

/** Imports a file holding `text` (small: it is read in one chunk) through the CLI against the receiver. */
async function importText(t: Test, text: string) {
  const server = await receiver()
  t.teardown(server.close)
  const dir = await mkdtemp(join(tmpdir(), 'tl-progress-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'usage.csv')
  await writeFile(file, text)
  return runCli(['import', file, '--key', 'tl_key_x'], { TOKENLEDGER_URL: server.url })
}

t.test('a file read in one chunk prints its plain progress line once', async (t) => {
  const run = await importText(t, 'start_time,end_time,model,input_tokens\n1760000000,1760003600,gpt-5,10\n1760003600,1760007200,gpt-5,20\n')
  t.equal(run.code, 0, run.stderr)
  const lines = progressLines(run.stderr)
  t.equal(lines.length, 1, `one progress line, got:\n${lines.join('\n')}`)
  t.match(lines[0], /^import: 2 rows, .* \(100%\), .* ETA 0s$/)
  t.match(run.stderr, /import: sent; waiting for the server to finish\n/)
})

t.test('an empty file still prints its one final line', async (t) => {
  const run = await importText(t, '')
  t.equal(run.code, 0, run.stderr)
  t.equal(progressLines(run.stderr).length, 1)
})
