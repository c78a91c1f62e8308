// The default card against a real OpenAI bill: on the days the usage export is complete, the costs
// export's amount equals tokens × list price exactly.
import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import { Decimal } from 'decimal.js'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'

type Row = Record<string, string>
const COMPLETE_DAYS = ['2025-10-07', '2025-10-10', '2025-10-11']
const PER_TOKEN = new Decimal('0.000001')

const usagePath = fixturePath(t, 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv')
const costsPath = fixturePath(t, 'openai/openai_costs_export_2025-10.sample.csv')

if (usagePath && costsPath) {
  const read = (p: string) => parse(readFileSync(p, 'utf8'), { columns: true, skip_empty_lines: true }) as Row[]
  const usage = read(usagePath)
  const costs = read(costsPath)

  void eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const { key } = await tenantWithKey(app, ['read'])

    for (const day of COMPLETE_DAYS) {
      t.test(`${day}: billed amount = tokens × default-card price`, async (t) => {
        const rows = usage.filter((r) => r.start_time_iso!.startsWith(day) && r.model)
        t.ok(rows.length > 0)
        const billed = costs.find((r) => r.start_time_iso!.startsWith(day))!.amount_value!
        let total = new Decimal(0)
        for (const r of rows) {
          t.equal(r.batch, 'FALSE')
          t.equal(r.service_tier, 'default')
          const res = await app.inject({
            method: 'GET',
            url: `/v1/rate-cards/default/rates?model=${r.model}&at=${r.start_time}`,
            headers: bearer(key),
          })
          t.equal(res.statusCode, 200)
          const rate = (res.json().data as { provider: string; service_tier: string; batch: boolean; prices: Record<string, string> }[]).find(
            (x) => x.provider === 'openai' && x.service_tier === 'default' && !x.batch,
          )!
          const n = (col: string) => new Decimal(r[col] || '0')
          const cost = n('input_uncached_tokens')
            .times(rate.prices.input!)
            .plus(n('input_cached_tokens').times(rate.prices.cached_input!))
            .plus(n('output_tokens').times(rate.prices.output!))
            .times(PER_TOKEN)
          total = total.plus(cost)
        }
        t.ok(total.equals(new Decimal(billed)), `${total.toFixed()} = ${billed}`)
      })
    }
  })
}
