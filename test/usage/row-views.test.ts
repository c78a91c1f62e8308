import t from 'tap'
import { buildSchema, getNamedType, GraphQLObjectType } from 'graphql'
import { loadSchema } from '../../src/graphql/index.js'
import type { Dimension } from '../../src/usage/dimensions.js'
import { usageRowViews } from '../../src/usage/row-views.js'
import { usageReportRows, usageRows, type RowValues, type UsageRow } from '../../src/usage/run-usage.js'
import { queryUsagePage, queryUsageViews, type UsageArgs } from '../../src/usage/usage-service.js'
import { pageColumns, type UsageSpec } from '../../src/usage/usage-sql.js'
import { dataset } from '../factories/dataset.js'
import { seedResources, type SeedResource } from '../factories/resources.js'
import { seedBuckets } from '../factories/usage.js'
import { build, eachEngine, tenantWithKey } from '../helpers.js'

// GraphQL reads usage rows as views that map a field when it is read (src/usage/row-views.ts); REST,
// budgets and reconciliation read `usageRows`' plain objects (views read once). Every field GraphQL serves must be the same
// either way: compared field by field (the schema's UsageRow and Cost fields) on real query results and
// on hand-made rows with the values a query rarely ships (labels, attributes, quantities, reported cost).

const schema = buildSchema(loadSchema())
const fieldsOf = (name: string) => Object.keys((schema.getType(name) as GraphQLObjectType).getFields())
const ROW_FIELDS = fieldsOf('UsageRow')
const COST_FIELDS = fieldsOf('Cost')
t.ok(getNamedType((schema.getType('UsageRow') as GraphQLObjectType).getFields().cost!.type).name === 'Cost')

/** What GraphQL would read of a row: every schema field (a missing one is null, as GraphQL answers it). */
function asGraphql(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of ROW_FIELDS) {
    const v = row[f]
    if (f === 'cost') {
      const cost = v as Record<string, unknown>
      out.cost = Object.fromEntries(COST_FIELDS.map((c) => [c, cost[c] ?? null]))
    } else out[f] = v instanceof Date ? v.toISOString() : (v ?? null)
  }
  return out
}

t.test('hand-made rows: every field equals usageRows', async (t) => {
  const spec = {
    tenantId: 't', from: new Date('2025-10-01T00:00:00Z'), to: new Date('2025-10-02T00:00:00Z'), window: 'DAY', timeZone: 'UTC',
    groupBy: ['PROJECT', 'MODALITY', 'RESOURCE', 'BATCH'], groupByLabels: ['team', 'env'], groupByAttributes: ['size'], filter: {},
    sources: ['events'], pricing: { cardId: 1, asOf: new Date() }, classes: false, rollups: true,
  } satisfies UsageSpec
  const columns = pageColumns(spec).map((c) => c.name)
  const base: Record<string, unknown> = {
    window_start: '2025-10-01T00:00:00+00:00', window_end: '2025-10-02T02:00:00+02:00', project_id: 'p1', batch: true,
    resource: 'storage_bytes', label_0: 'core', label_1: null, attr_0: '1024x1024', modality: 'text',
    requests: 7, input_tokens: 100, output_tokens: 50, cached_input_tokens: 10, uncached_input_tokens: 90,
    cache_write_tokens: 3, cache_write_1h_tokens: 1, cost_total: '0012.50000', cost_input: '1.000', cost_cached_input: '0',
    cost_cache_write: null, cost_output: '-0.000', cost_resources: '11.5', unpriced_tokens: 0,
    unpriced_quantity: [{ resource: 'characters', quantity: '3.1400' }], quantity: '002.5000', storage_byte_seconds: '10',
    reported_cost: '4.20',
  }
  const variants: Record<string, unknown>[] = [
    base,
    { ...base, unpriced_quantity: [], unpriced_tokens: 12, reported_cost: null, quantity: null, requests: null, project_id: null, label_0: null, attr_0: null, modality: null },
    { ...base, unpriced_quantity: null, unpriced_tokens: null, input_tokens: null, cost_total: null, batch: false },
  ]
  const view = usageRowViews(spec, columns, 'EUR')
  for (const [i, named] of variants.entries()) {
    const values: RowValues = columns.map((c) => named[c] ?? null)
    t.same(asGraphql(view(values) as unknown as Record<string, unknown>), asGraphql(usageRows(spec, columns, 'EUR')(values)), `variant ${i}`)
  }
})

t.test('hand-made rows: the class breakdown and storage byte-seconds read by column name', async (t) => {
  const spec = {
    tenantId: 't', from: new Date('2025-10-01T00:00:00Z'), to: new Date('2025-10-02T00:00:00Z'), window: 'DAY', timeZone: 'UTC',
    groupBy: ['MODEL'], groupByLabels: [], groupByAttributes: [], filter: {},
    sources: ['events'], pricing: { cardId: 1, asOf: new Date() }, classes: true, rollups: true,
  } satisfies UsageSpec
  const columns = pageColumns(spec).map((c) => c.name)
  const named: Record<string, unknown> = {
    window_start: '2025-10-01T00:00:00+00:00', window_end: '2025-10-02T00:00:00+00:00', model: 'm',
    in_text: 100, c_in_text: '0.000300', u_in_text: 0, cached_audio: 7, c_cached_audio: null, u_cached_audio: 7,
    out_image: 5, c_out_image: '01.50', u_out_image: null, storage_byte_seconds: '0086400.000',
  }
  t.ok(['in_text', 'c_in_text', 'u_in_text', 'cached_audio', 'out_image', 'storage_byte_seconds'].every((c) => columns.includes(c)), 'the spec ships the class columns')
  const row = usageRows(spec, columns, 'USD')(columns.map((c) => named[c] ?? null))
  t.equal(row.storageByteSeconds, '86400')
  t.same(row.classes!.in_text, { tokens: 100, cost: '0.0003', unpricedTokens: 0 })
  t.same(row.classes!.cached_audio, { tokens: 7, cost: '0', unpricedTokens: 7 })
  t.same(row.classes!.out_image, { tokens: 5, cost: '1.5', unpricedTokens: 0 })
  t.same(row.classes!.out_text, { tokens: 0, cost: '0', unpricedTokens: 0 }, 'a class the row does not have')
  const tokensOnly = { ...spec, classes: 'tokens' as const }
  const tokenColumns = pageColumns(tokensOnly).map((c) => c.name)
  const tokenRow = usageRows(tokensOnly, tokenColumns, 'USD')(tokenColumns.map((c) => named[c] ?? null))
  t.same([tokenRow.classTokens!.in_text, tokenRow.classTokens!.cached_audio, tokenRow.classTokens!.out_image, tokenRow.classes], [100, 7, 5, undefined])
})

/** Everything a REST report may read of a row: GraphQL's fields, the class breakdowns and the storage byte-seconds. */
const asReport = (row: UsageRow) => ({
  ...asGraphql(row as unknown as Record<string, unknown>),
  classes: row.classes ?? null,
  classTokens: row.classTokens ?? null,
  storageByteSeconds: row.storageByteSeconds,
})

t.test('hand-made rows: the REST report views (usageReportRows) equal usageRows, the breakdowns too', async (t) => {
  const named: Record<string, unknown> = {
    window_start: '2025-10-01T00:00:00+00:00', window_end: '2025-10-02T00:00:00+00:00', model: 'm', project_id: 'p', batch: false,
    resource: 'storage_bytes', attr_0: 'vs_1', requests: 3, input_tokens: 107, output_tokens: 5, cost_total: '01.5003', cost_input: '0.000300',
    cost_output: '01.50', cost_resources: '0', unpriced_tokens: 7, unpriced_quantity: [{ resource: 'storage_bytes', quantity: '2.50' }],
    in_text: 100, c_in_text: '0.000300', u_in_text: 0, cached_audio: 7, c_cached_audio: null, u_cached_audio: 7,
    out_image: 5, c_out_image: '01.50', u_out_image: null, storage_byte_seconds: '0086400.000', quantity: '0.5', reported_cost: null,
  }
  for (const classes of [true, 'tokens', false] as const) {
    const spec = {
      tenantId: 't', from: new Date('2025-10-01T00:00:00Z'), to: new Date('2025-10-02T00:00:00Z'), window: 'DAY', timeZone: 'UTC',
      groupBy: ['MODEL', 'PROJECT', 'BATCH', 'RESOURCE'], groupByLabels: [], groupByAttributes: ['vector_store_id'], filter: {},
      sources: ['buckets', 'resources'], pricing: { cardId: 1, asOf: new Date() }, classes, rollups: true,
    } satisfies UsageSpec
    const columns = pageColumns(spec).map((c) => c.name)
    for (const [i, row] of [named, { ...named, storage_byte_seconds: null, unpriced_quantity: null, cost_total: null, model: null }].entries()) {
      const values: RowValues = columns.map((c) => row[c] ?? null)
      const [view, plain] = [usageReportRows(spec, columns, 'USD')(values), usageRows(spec, columns, 'USD')(values)]
      t.same(asReport(view), asReport(plain), `classes: ${String(classes)}, variant ${i}`)
      if (classes === true) t.ok(view.classes!.in_text.tokens === 100, 'the breakdown is read through the view')
    }
  }
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const db = app.testDb
  const { tenantId } = await tenantWithKey(app, ['read'])
  await seedBuckets(db, tenantId, dataset(3, 200))
  const resources: SeedResource[] = ['images', 'storage_bytes', 'characters', 'web_search_calls'].flatMap((resource, i) => [
    { start: new Date(Date.parse('2025-10-20T00:00:00Z') + i * 3_600_000), end: new Date(Date.parse('2025-10-20T01:00:00Z') + i * 3_600_000), model: i % 2 ? null : 'gpt-5-2025-08-07', resource, attributes: { size: '1024x1024' }, quantity: resource === 'storage_bytes' ? '5000000001' : '7.25' },
    { start: new Date(Date.parse('2025-10-21T00:00:00Z') + i * 60_000), end: new Date(Date.parse('2025-10-21T00:07:13Z') + i * 60_000), model: 'gpt-5-mini-2025-08-07', resource, quantity: '3' },
  ])
  await seedResources(db, tenantId, resources)

  const shapes: { window: UsageArgs['window']; groupBy: Dimension[]; groupByAttributes?: string[] }[] = [
    { window: 'DAY', groupBy: ['MODEL'] },
    { window: 'TOTAL', groupBy: ['PROJECT', 'API_KEY', 'USER', 'BATCH'] },
    { window: 'HOUR', groupBy: ['MODALITY', 'SERVICE_TIER'] },
    { window: 'WEEK', groupBy: ['RESOURCE', 'MODEL'], groupByAttributes: ['size'] },
    { window: 'MONTH', groupBy: [] },
  ]
  for (const shape of shapes) {
    await t.test(`${shape.window} × [${shape.groupBy.join(', ')}]: views equal usageRows, page by page`, async (t) => {
      const args: UsageArgs = {
        tenantId, from: new Date('2025-10-14T00:00:00Z'), to: new Date('2025-11-15T00:00:00Z'), timeZone: 'Europe/Berlin',
        groupByLabels: [], filter: {}, rateCard: 'default', first: 37, ...shape,
      }
      let after: string | undefined
      let rows = 0
      for (let page = 0; page < 100; page++) {
        const [objects, views] = [await queryUsagePage(db, { ...args, after }, { maxGroups: 100_000 }), await queryUsageViews(db, { ...args, after }, { maxGroups: 100_000 })]
        t.same(views.rows.map((r) => asGraphql(r as unknown as Record<string, unknown>)), objects.rows.map((r) => asGraphql(r)), `page ${page}`)
        t.same({ ...views, rows: null, endCursor: !!views.endCursor }, { ...objects, rows: null, endCursor: !!objects.endCursor }, `page ${page}: everything but the rows (each first page has its own snapshot)`)
        rows += objects.rows.length
        if (!objects.hasNextPage) break
        after = objects.endCursor ?? undefined
      }
      t.ok(rows > 0, `${rows} rows compared`)
    })
  }

  // The completions mirror asks for each class's tokens only (classes: 'tokens'); the costs mirror and
  // reconciliation for every figure (classes: true). Same rows, same tokens, whichever is asked.
  for (const shape of shapes.filter((s) => !s.groupBy.includes('MODALITY'))) {
    await t.test(`${shape.window} × [${shape.groupBy.join(', ')}]: a tokens-only breakdown equals the full one's tokens`, async (t) => {
      const args: UsageArgs = {
        tenantId, from: new Date('2025-10-14T00:00:00Z'), to: new Date('2025-11-15T00:00:00Z'), timeZone: 'Asia/Kolkata',
        groupByLabels: [], filter: {}, rateCard: 'default', first: 1000, ...shape,
      }
      const [full, tokens] = [await queryUsagePage(db, { ...args, classes: true }, { maxGroups: 100_000 }), await queryUsagePage(db, { ...args, classes: 'tokens' }, { maxGroups: 100_000 })]
      t.ok(full.rows.length > 0 && !full.hasNextPage, `${full.rows.length} rows, one page`)
      t.same(tokens.rows.map(({ classTokens, ...row }) => row), full.rows.map(({ classes, ...row }) => row), 'every other field')
      const fromFull = full.rows.map((r) => Object.fromEntries(Object.entries(r.classes!).map(([c, u]) => [c, u.tokens])))
      t.same(tokens.rows.map((r) => r.classTokens), fromFull, 'each class’s tokens')
      t.ok(fromFull.some((r) => Object.values(r).some((n) => n > 0)), 'some class has tokens')
      t.ok(tokens.rows.every((r) => r.classes === undefined) && full.rows.every((r) => r.classTokens === undefined), 'each breakdown only where asked')
      const columns = (classes: UsageSpec['classes']) => pageColumns({ ...args, sources: ['buckets'], pricing: { cardId: 1, asOf: new Date() }, classes }).length
      t.equal(columns(true) - columns('tokens'), 2 * (columns('tokens') - columns(false)), 'tokens only: a third of the class columns')
    })
  }
})
