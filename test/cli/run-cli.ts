import { spawn } from 'node:child_process'
import { main, type Io } from '../../src/cli/main.js'
import { track } from '../setup/children.js'
import { DIST_CLI } from '../setup/compiled.js'

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

/** The real binary (dist/cli.js under node, built by ensureBuilt), with only the TOKENLEDGER_* variables given here. */
export function runBuiltCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TOKENLEDGER_')))
  const child = track(spawn(process.execPath, [DIST_CLI, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })))
}
