import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'

/**
 * Layers run one way (STYLE.md: server → app → routes/graphql → usage/ingest/pricing → db): the db layer
 * never imports pricing, and no module imports itself back through a chain of runtime imports.
 * Read from the source text (relative imports; `import type` is erased at run time and not counted).
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url))
const files = (readdirSync(SRC, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(SRC, f))
const IMPORT = /^\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'(\.[^']+)'/gm

function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')))
}
const graph = new Map(files.map((f) => [f, runtimeImports(f)]))
const rel = (f: string) => relative(SRC, f)

t.test('src/db imports nothing from src/pricing', async (t) => {
  const offending = files.filter((f) => rel(f).startsWith('db/')).flatMap((f) => (graph.get(f) ?? []).filter((d) => rel(d).startsWith('pricing/')).map((d) => `${rel(f)} → ${rel(d)}`))
  t.same(offending, [])
})

t.test('no cycle of runtime imports between modules', async (t) => {
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const visit = (f: string, path: string[]) => {
    if (state.get(f) === 'done') return
    if (state.get(f) === 'open') {
      cycles.push([...path.slice(path.indexOf(f)), f].map(rel).join(' → '))
      return
    }
    state.set(f, 'open')
    for (const d of graph.get(f) ?? []) visit(d, [...path, f])
    state.set(f, 'done')
  }
  for (const f of files) visit(f, [])
  t.same(cycles, [])
})
