import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { procStat } from '../setup/proc-stat.js'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HELPER = new URL('../setup/children.ts', import.meta.url).href

/**
 * Whether `pid` is still a running process: process.kill(pid, 0) throws ESRCH once it is gone and reaped.
 * A zombie counts as gone: it has ended, and the orphaned grandchild is reaped by PID 1, which here takes
 * 1.5–2 s and elsewhere may never happen. Its state is the field after the last ')' of /proc/<pid>/stat
 * (the command name in parentheses may hold spaces); without /proc, kill's answer stands.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw err
  }
  const stat = procStat(pid)
  return stat === undefined || stat.state !== 'Z'
}

async function goneWithin(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (!alive(pid)) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return !alive(pid)
}

/** How the stand-in starts its process: a child through `track`, or a daemon (as pg_ctl starts one) through `trackPid`. */
const STARTS = {
  child: [
    `import { spawn } from 'node:child_process'`,
    `import { track } from ${JSON.stringify(HELPER)}`,
    `const child = track(spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }))`,
  ],
  daemon: [
    `import { spawn } from 'node:child_process'`,
    `import { trackPid } from ${JSON.stringify(HELPER)}`,
    `const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore', detached: true })`,
    `child.unref()`,
    `trackPid(child.pid)`,
  ],
}

/**
 * A stand-in for a test file: starts a long-running process through the helper, prints its pid and waits
 * (as a file stuck past tap's timeout would) until it is killed with `signal`. The child is then an orphan
 * unless the helper ends it.
 */
for (const [kind, start] of Object.entries(STARTS))
  for (const signal of ['SIGTERM', 'SIGALRM', 'SIGKILL'] as const) {
    t.test(`a ${kind} started through the helper ends when its test file is killed with ${signal}`, async (t) => {
      const dir = await mkdtemp(join(tmpdir(), 'tl-children-'))
      t.teardown(() => rm(dir, { recursive: true, force: true }))
      const script = join(dir, 'file.ts')
      await writeFile(script, [
        ...start,
      `console.log(child.pid)`,
      `setInterval(() => {}, 1000)`,
      ].join('\n'))
      const file = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      file.stdout.on('data', (d: Buffer) => (out += d.toString()))
      const pid = await new Promise<number>((resolve, reject) => {
        file.stdout.on('data', () => /^\d+\n/.test(out) && resolve(Number(out.trim())))
        file.once('exit', () => reject(new Error(`the script exited: ${out}`)))
      })
      // Whatever the helper does, this run leaves nothing behind.
      t.teardown(() => {
        if (alive(pid)) process.kill(pid, 'SIGKILL')
      })
      t.ok(alive(pid), 'the grandchild runs while its file does')
      const exited = once(file, 'exit')
      file.kill(signal)
      const [, by] = await exited
      t.equal(by, signal, `the file died of ${signal}`)
      t.ok(await goneWithin(pid, 10_000), `the grandchild ${pid} is gone (ESRCH or a zombie) within 10 s of its file's ${signal}`)
    })
  }
