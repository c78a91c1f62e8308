import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * Reconciliation pages are one snapshot: every page shows the comparison as the first page made it.
 * Pages were computed afresh, each after the previous page's last row, so a bill posted between two
 * pages changed the rows under the cursor: a billed row of the day without a project (here another
 * account's: one account's bill cannot mix shapes) collapses the day's project dimension, and page 2 then listed one null-project row holding the whole day — page 1's
 * projects again — while page 1 had listed them apart.
 */

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const HOUR = 3600
const PROJECTS = ['p1', 'p2', 'p3', 'p4']
const usage = (project: string) => ({ start_time: DAY, end_time: DAY + HOUR, project_id: project, model: 'gpt-4o-mini', input_tokens: 1_000_000, output_tokens: 0, num_model_requests: 1 })
const costs = (project: string | null, value: number) => ({
  object: 'page', has_more: false, next_page: null,
  data: [{ object: 'bucket', start_time: DAY, end_time: DAY + 24 * HOUR, results: [{ object: 'organization.costs.result', amount: { value, currency: 'usd' }, line_item: null, project_id: project }] }],
})
const iso = (s: number) => new Date(s * 1000).toISOString()
const FROM = iso(DAY)
const TO = iso(DAY + 24 * HOUR)
const QUERY = `query($after: String, $first: Int) { reconciliation(from: "${FROM}", to: "${TO}", groupBy: [PROJECT], first: $first, after: $after) {
  rows { projectId computed billed status } totals { computed billed } pageInfo { hasNextPage endCursor } } }`

interface Row { project: string | null; computed: string | null; billed: string | null; status: string }
interface Page { rows: Row[]; totals: { computed: string; billed: string }; next: string | null }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  const setUp = async () => {
    const { key } = await tenantWithKey(app, ['ingest', 'read'])
    const h = bearer(key)
    t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: PROJECTS.map(usage) } })).statusCode, 200)
    for (const p of PROJECTS) {
      const res = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=acct-a', headers: h, payload: costs(p, 0.15) })
      t.equal(res.statusCode, 200, res.body)
    }
    const billNoProject = async () => {
      const res = await app.inject({ method: 'POST', url: '/v1/billing/costs?account_id=acct-b', headers: h, payload: costs(null, 0.5) })
      t.equal(res.statusCode, 200, res.body)
    }
    return { h, billNoProject }
  }

  const faces = {
    graphql: async (h: Record<string, string>, first: number, after: string | null): Promise<Page> => {
      const res = await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query: QUERY, variables: { first, after } } })
      const body = res.json() as { data: { reconciliation: { rows: (Omit<Row, 'project'> & { projectId: string | null })[]; totals: Page['totals']; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }; errors?: unknown }
      t.equal(body.errors, undefined, JSON.stringify(body.errors))
      const r = body.data.reconciliation
      return { rows: r.rows.map(({ projectId, ...rest }) => ({ project: projectId, ...rest })), totals: r.totals, next: r.pageInfo.hasNextPage ? r.pageInfo.endCursor : null }
    },
    rest: async (h: Record<string, string>, first: number, after: string | null): Promise<Page> => {
      const res = await app.inject({ method: 'GET', url: '/v1/reconciliation', headers: h, query: { from: FROM, to: TO, group_by: 'project', first: String(first), ...(after ? { after } : {}) } })
      t.equal(res.statusCode, 200, res.body)
      const body = res.json() as { data: { project_id: string | null; computed: string | null; billed: string | null; status: string }[]; totals: Page['totals']; next_page: string | null }
      return { rows: body.data.map((r) => ({ project: r.project_id, computed: r.computed, billed: r.billed, status: r.status })), totals: { computed: body.totals.computed, billed: body.totals.billed }, next: body.next_page }
    },
  }

  for (const [face, read] of Object.entries(faces)) {
    t.test(`${face}: a bill without a project posted between pages leaves the later pages as the first page saw them`, async (t) => {
      const { h, billNoProject } = await setUp()
      const whole = await read(h, 100, null)
      t.same(whole.rows.map((r) => r.project), PROJECTS, 'one page: a row per project')
      const first = await read(h, 2, null)
      t.same(first.rows, whole.rows.slice(0, 2))
      await billNoProject()
      const rows = [...first.rows]
      let after = first.next
      for (let n = 0; after && n < 10; n++) {
        const p = await read(h, 2, after)
        t.same(p.totals, first.totals, 'every page carries the first page’s totals')
        rows.push(...p.rows)
        after = p.next
      }
      t.same(rows, whole.rows, 'the pages list the rows the first page was cut from, each once')
      const fresh = await read(h, 100, null)
      t.same(fresh.rows.map((r) => r.project), [null], 'a new read sees the bill: the day collapses to one row')
    })
  }
})
