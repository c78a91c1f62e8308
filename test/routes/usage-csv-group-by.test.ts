import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// Contract v2 "Report shapes": a request's grouped dimensions are those non-null in its rows "unless the
// request declares them with ?group_by=". The JSON forms honoured it; the CSV form ignored it: an export
// grouped by project whose hour held only null-project rows was stored without project in its shape, so
// the next export of that hour (with a project row) was refused 409 against its own earlier upload, and a
// misspelled group_by (which JSON refuses) passed silently.

const HEADER = 'start_time,end_time,project_id,model,input_tokens'
const FIRST = [HEADER, '1772409600,1772413200,,gpt-4o,5'].join('\n')
const AGAIN = [HEADER, '1772409600,1772413200,,gpt-4o,5', '1772409600,1772413200,proj_1,gpt-4o,7'].join('\n')

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app)
  const post = (query: string, csv: string) =>
    app.inject({ method: 'POST', url: `/v1/usage/buckets?${query}`, headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: csv })

  t.test('a CSV upload stores the shape its ?group_by= declares', async (t) => {
    const first = await post('group_by=project_id,model&account_id=org_a', FIRST)
    t.equal(first.statusCode, 200, first.body)
    const again = await post('group_by=project_id,model&account_id=org_a', AGAIN)
    t.equal(again.statusCode, 200, again.body)
    t.match(again.json(), { received: 2, created: 1, unchanged: 1 })
    const shapes = await app.testDb.query<{ project_id: string | null; shape: string }>(
      `select project_id, shape from usage_buckets where tenant_id = $1 and account_id = 'org_a' order by project_id nulls first`,
      [tenantId],
    )
    t.same(shapes, [{ project_id: null, shape: '9' }, { project_id: 'proj_1', shape: '9' }], 'project_id and model grouped (bits 1 + 8)')

    const undeclared = await post('account_id=org_b', FIRST)
    t.equal(undeclared.statusCode, 200, undeclared.body)
    const [row] = await app.testDb.query<{ shape: string }>(`select shape from usage_buckets where tenant_id = $1 and account_id = 'org_b'`, [tenantId])
    t.equal(row?.shape, '8', 'without group_by the rows decide (model only)')
  })

  t.test('a misspelled group_by is a 400 that writes nothing, as for JSON', async (t) => {
    const res = await post('group_by=projetc_id&account_id=org_c', FIRST)
    t.equal(res.statusCode, 400, res.body)
    t.match(res.json(), { errors: [{ path: 'query.group_by', message: /"projetc_id"/ }] })
    const rows = await app.testDb.query(`select 1 from usage_buckets where tenant_id = $1 and account_id = 'org_c'`, [tenantId])
    t.equal(rows.length, 0)
  })
})
