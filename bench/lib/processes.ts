// Child processes for the benchmark: the server under test, the baselines' servers and the load
// generator each run in their own process, so no measurement shares an event loop with the harness
// and each server's memory can be read from /proc.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

export interface Proc {
  name: string
  url: string
  pid: number
  child: ChildProcess
  logPath: string
  stop(): Promise<void>
  /** Why the process is gone, if it exited by itself (its log's tail); undefined while it runs. */
  failure(): Promise<string | undefined>
}

async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').slice(-30).join('\n')
}

/**
 * Starts `node [nodeArgs] script` with PORT set, and waits until `readyPath` answers 200. Output goes
 * to a log file (its tail is shown when the process fails to start or dies).
 */
export async function startNode(opts: {
  name: string
  script: string
  nodeArgs?: string[]
  env: Record<string, string>
  /** Ready when GET readyPath answers 200, or when `ready(url)` resolves true. */
  readyPath?: string
  ready?: (url: string) => Promise<boolean>
  timeoutMs?: number
}): Promise<Proc> {
  const port = await freePort()
  const logPath = join(tmpdir(), `tokenledger-bench-${opts.name}-${process.pid}-${port}.log`)
  const log = createWriteStream(logPath)
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.script], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout!.pipe(log)
  child.stderr!.pipe(log)
  let exited: number | null = null
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? (signal ? 128 : 0)
      resolve()
    }),
  )
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + (opts.timeoutMs ?? 180_000)
  for (;;) {
    if (exited !== null) throw new Error(`${opts.name} exited (${exited}) before it was ready:\n${await logTail(logPath)}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${opts.name} not ready within the timeout:\n${await logTail(logPath)}`)
    }
    const ok = opts.ready
      ? await opts.ready(url).catch(() => false)
      : await fetch(url + (opts.readyPath ?? '/')).then((r) => r.status === 200, () => false)
    if (ok) break
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    name: opts.name,
    url,
    pid: child.pid!,
    child,
    logPath,
    async stop() {
      if (exited === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
        await exit
        clearTimeout(timer)
      }
      log.end()
    },
    async failure() {
      return exited === null ? undefined : `${opts.name} exited with ${exited}; last lines of ${logPath}:\n${await logTail(logPath)}`
    },
  }
}

let built = false

/**
 * Runs the tokenledger server exactly as `npm start` does: `node dist/server.js`, compiled from the
 * current src/ once per benchmark process (`npm run build`), so an edit is never measured stale. Not
 * through tsx: its transform names every closure at run time (esbuild keepNames), CPU the production
 * server does not spend (54 ms of a 10 s profile of bench row 3 in one place alone).
 */
export function startTokenledger(env: Record<string, string>, timeoutMs?: number): Promise<Proc> {
  if (!built) {
    execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' })
    built = true
  }
  return startNode({ name: 'tokenledger', script: 'dist/server.js', nodeArgs: [], env, readyPath: '/readyz', ...(timeoutMs ? { timeoutMs } : {}) })
}

export interface Memory {
  rssMb: number
  /** Peak RSS since start, or since the last resetPeak(). */
  hwmMb: number
}

export async function memoryOf(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (Linux: write 5 to clear_refs). */
export async function resetPeak(pid: number): Promise<boolean> {
  return writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false)
}
