// The compiled build (dist/) for tests that run the real `node dist/…` entry points. `npm ci` builds it
// (prepare); during development src/ moves on, so a stale or missing dist/ is rebuilt here, once, under
// a lock directory: tap runs test files in parallel and two tsc runs writing dist/ would race.
import { execFile } from 'node:child_process'
import { mkdir, readdir, rmdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const DIST_SERVER = join(ROOT, 'dist/server.js')
export const DIST_CLI = join(ROOT, 'dist/cli.js')

async function newestSource(dir: string): Promise<number> {
  let newest = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    const m = entry.isDirectory() ? await newestSource(path) : (await stat(path)).mtimeMs
    newest = Math.max(newest, m)
  }
  return newest
}

async function isFresh(): Promise<boolean> {
  // tsc (not incremental) rewrites every output, so one output's time is the build's.
  const built = await stat(DIST_SERVER).then((s) => s.mtimeMs, () => 0)
  const sources = Math.max(
    await newestSource(join(ROOT, 'src')),
    ...(await Promise.all(['tsconfig.json', 'tsconfig.build.json'].map(async (f) => (await stat(join(ROOT, f))).mtimeMs))),
  )
  return built > sources
}

export async function ensureBuilt(): Promise<void> {
  if (await isFresh()) return
  const lock = join(ROOT, '.dist-build.lock')
  const deadline = Date.now() + 180_000
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (remove it if no build is running)`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
  try {
    if (await isFresh()) return
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
    })
  } finally {
    await rmdir(lock)
  }
}
