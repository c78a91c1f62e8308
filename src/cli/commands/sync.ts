import { CliError } from '../errors.js'
import { callServer, MissingRouteError, segment, type ServerTarget } from '../http.js'
import { formatSummary } from '../summary.js'

export const SYNC_HELP = `Usage: tokenledger sync <connection-id> [options]

Asks the server to pull a provider connection now (POST /v1/connections/{id}/sync), waits for the run
to finish and prints its summary (last_run: status, pages, rows, error; synced_until per endpoint).
Exits 1 when the run failed.

Options:
  --from WHEN   re-pull every endpoint from WHEN (YYYY-MM-DD or an instant; not before the connection's
                start date), e.g. after deleting a range of pulled usage
  --detach      return once the run has started (202) instead of waiting for it
  --json        print the server's answer as JSON
  --url URL     server (env TOKENLEDGER_URL, default http://127.0.0.1:3000)
  --key KEY     an API key with the ingest scope (env TOKENLEDGER_KEY)
  -h, --help    this help`

interface Run {
  started_at: string
  status: string
  error: string | null
}

interface ConnectionState {
  last_run: Run | null
  /** The run before last_run (servers since round 17; absent before). */
  previous_run?: Run | null
  synced_until: Record<string, string | null>
}

/**
 * The run this command started, told apart by its started_at: once it has ended another run may have
 * begun (the scheduler, another client's sync), and last_run is then that run — waiting for it and
 * printing its outcome reported a run this command never started. Ours is previous_run by then.
 */
function ownRun(state: ConnectionState, startedAt: string): Run | undefined {
  return [state.last_run, state.previous_run].find((r) => r?.started_at === startedAt) ?? undefined
}

export async function runSync(target: ServerTarget, connectionId: string, opts: { json: boolean; detach: boolean; from?: string | undefined; pollMs?: number }, out: NodeJS.WriteStream) {
  const path = `/v1/connections/${segment(connectionId)}`
  let state: ConnectionState
  try {
    const body = JSON.stringify(opts.from === undefined ? {} : { from: opts.from })
    state = await callServer<ConnectionState>(target, 'POST', `${path}/sync`, { body, headers: { 'content-type': 'application/json' } })
  } catch (e) {
    if (e instanceof MissingRouteError)
      throw new CliError(`sync: this server has no provider connections yet (POST /v1/connections/{id}/sync answered 404)`)
    throw e
  }
  if (opts.detach) {
    out.write(opts.json ? `${JSON.stringify(state)}\n` : formatSummary(state))
    return
  }
  const startedAt = state.last_run?.started_at
  if (startedAt === undefined) throw new CliError('sync: the server answered 202 without the run it started (no last_run.started_at)')
  // The run goes on in the server; its state is polled until it has ended.
  let run = ownRun(state, startedAt)
  while (run?.status === 'running') {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 500))
    state = await callServer<ConnectionState>(target, 'GET', path)
    run = ownRun(state, startedAt)
  }
  if (!run)
    throw new CliError(`sync: the run started at ${startedAt} has ended, but later runs have replaced its record, so its outcome is unknown; see GET ${path}`)
  const summary = { ...run, synced_until: state.synced_until }
  out.write(opts.json ? `${JSON.stringify(summary)}\n` : formatSummary(summary))
  if (run.status === 'failed') throw new CliError(`sync: the run failed: ${run.error ?? 'no reason given'}`)
}
