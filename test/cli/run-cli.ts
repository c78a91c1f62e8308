import { main, type Io } from '../../src/cli/main.js'

/**
 * Runs the CLI in this process, capturing its output. The environment's TOKENLEDGER_* variables are
 * replaced by `env` for the run (so a developer's own settings cannot leak in) and restored after it.
 */
export async function runCli(argv: string[], env: Record<string, string> = {}) {
  const saved = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('TOKENLEDGER_')))
  for (const k of Object.keys(saved)) delete process.env[k]
  Object.assign(process.env, env)
  let stdout = ''
  let stderr = ''
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } } as unknown as Io
  try {
    const code = await main(argv, io)
    return { code, stdout, stderr }
  } finally {
    for (const k of Object.keys(env)) delete process.env[k]
    Object.assign(process.env, saved)
  }
}
