import { PassThrough } from 'node:stream'
import t from 'tap'
import { spoolToTempFile } from '../../src/ingest/spool.js'

// A body that failed before the route read it (a corrupt Content-Encoding body whose decoder failed while
// the request was still being authenticated) had already emitted its error: the spool waited for ever and
// the request hung (a CI run timed out on it). It is now refused with that error at once.
t.test('a body that already failed is refused with its error, not waited on', async (t) => {
  const body = new PassThrough()
  body.on('error', () => {})
  const failure = new Error('the body is not valid gzip')
  body.destroy(failure)
  await new Promise((r) => setImmediate(r))
  await t.rejects(spoolToTempFile(body, 1024), failure)
})
