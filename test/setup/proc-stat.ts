import { readFileSync } from 'node:fs'

/** The fields of /proc/<pid>/stat the tests read. */
export interface ProcStat {
  /** R, S, D, T (stopped), Z (zombie) … */
  state: string
  ppid: number
  /** Clock ticks after boot the process started at: tells a reused pid apart. */
  startTime: string
}

/**
 * Process `pid`'s /proc/<pid>/stat, or undefined when it is gone (or there is no /proc). The line is
 * "pid (comm) state ppid …" and comm may hold spaces and ')', so the fields are read after the last ')'.
 */
export function procStat(pid: number): ProcStat | undefined {
  let line: string
  try {
    line = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0]!, ppid: Number(fields[1]), startTime: fields[19]! }
}
