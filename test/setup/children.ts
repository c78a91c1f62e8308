import { spawn, type ChildProcess } from 'node:child_process'
import type { Socket } from 'node:net'
import { onExit } from 'signal-exit'
import { procStat } from './proc-stat.js'

/**
 * The reaper, a separate process: it reads "+pid" / "-pid" lines from this process on its stdin and, once
 * that pipe ends — this process is gone, however it died, SIGKILL included — SIGKILLs the pids still
 * listed. A pid counts only while /proc/<pid>/stat shows the start time it had when it was listed (read as
 * proc-stat.ts reads it: the reaper runs alone, without this tree's modules), so a
 * reused pid is never touched. It ignores the terminal's signals (and runs in its own session) so that a
 * Ctrl-C of the whole group cannot end it before it has done its work.
 */
const REAPER = `
const { readFileSync } = require('node:fs')
const startOf = (pid) => {
  try {
    const stat = readFileSync('/proc/' + pid + '/stat', 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {})
const pids = new Map()
let rest = ''
process.stdin.on('data', (d) => {
  const lines = (rest + d).split('\\n')
  rest = lines.pop()
  for (const line of lines) {
    const pid = Number(line.slice(1))
    if (line[0] === '+') pids.set(pid, startOf(pid))
    else pids.delete(pid)
  }
})
const reap = () => {
  for (const [pid, start] of pids) {
    if (start === undefined || startOf(pid) !== start) continue
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
  process.exit(0)
}
process.stdin.on('end', reap)
process.stdin.on('error', reap)
`

const children = new Set<ChildProcess>()
/** Processes this file started that are not its children (a daemon, as pg_ctl starts one), with their start times. */
const daemons = new Map<number, string | undefined>()

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), so that a reused pid is told apart. */
const startTime = (pid: number): string | undefined => procStat(pid)?.startTime
let reaper: Socket | undefined

function reaperInput(): Socket {
  if (reaper) return reaper
  // No env: tap's NODE_OPTIONS (its loaders) and NODE_CHANNEL_FD are not the reaper's business.
  const proc = spawn(process.execPath, ['-e', REAPER], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, env: {} })
  proc.unref()
  reaper = proc.stdin as Socket
  reaper.unref()
  // A reaper that died early costs only the SIGKILL case: the exit handler below still runs.
  reaper.on('error', () => {})
  // Ordinary exits and fatal signals (tap's timeout SIGALRM, SIGTERM, SIGINT, SIGHUP …): kill synchronously here.
  onExit(() => {
    for (const child of children) child.kill('SIGKILL')
    for (const [pid, start] of daemons) {
      if (start === undefined || startTime(pid) !== start) continue
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // gone meanwhile
      }
    }
  })
  return reaper
}

/**
 * Records a child process a test file spawned, so that it cannot outlive the file: on the file's exit or a
 * fatal signal it is SIGKILLed here, and if the file is SIGKILLed the reaper above does it. Returns `child`.
 */
export function track<C extends ChildProcess>(child: C): C {
  const pid = child.pid
  // No pid: the spawn failed and the child's 'error' event says why; there is nothing to kill.
  if (pid === undefined) return child
  children.add(child)
  const input = reaperInput()
  input.write(`+${pid}\n`)
  child.once('exit', () => {
    children.delete(child)
    input.write(`-${pid}\n`)
  })
  return child
}

/**
 * As `track`, for a process that is not this file's child (a server a tool daemonized, as `pg_ctl start`
 * does: it outlived its starter and is init's child). SIGKILLed with the file's children and by the reaper;
 * the returned function forgets it (the test ended it itself).
 */
export function trackPid(pid: number): () => void {
  daemons.set(pid, startTime(pid))
  const input = reaperInput()
  input.write(`+${pid}\n`)
  return () => {
    if (daemons.delete(pid)) input.write(`-${pid}\n`)
  }
}
