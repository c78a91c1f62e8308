import { CliError } from '../errors.js'
import { callServer, MissingRouteError, segment, type ServerTarget } from '../http.js'
import { formatSummary } from '../summary.js'

export const SYNC_HELP = `Usage: tokenledger sync <connection-id> [options]

Asks the server to pull usage from a provider connection now (POST /v1/connections/{id}/sync) and
prints the run's summary.

Options:
  --json        print the server's answer as JSON
  --url URL     server (env TOKENLEDGER_URL, default http://127.0.0.1:3000)
  --key KEY     an API key with the ingest scope (env TOKENLEDGER_KEY)
  -h, --help    this help`

export async function runSync(target: ServerTarget, connectionId: string, json: boolean, out: NodeJS.WriteStream) {
  const path = `/v1/connections/${segment(connectionId)}/sync`
  try {
    const run = await callServer<unknown>(target, 'POST', path, {
      body: '{}',
      headers: { 'content-type': 'application/json' },
    })
    out.write(json ? `${JSON.stringify(run)}\n` : formatSummary(run))
  } catch (e) {
    if (e instanceof MissingRouteError)
      throw new CliError(`sync: this server has no provider connections yet (POST /v1/connections/{id}/sync answered 404)`)
    throw e
  }
}
