import type { Readable } from 'node:stream'
import { ProblemList, problems as problemCatalogue } from '../errors.js'
import { readCsvRecords } from '../ingest/csv-records.js'
import { assembleDims, RowProblems } from '../ingest/bucket.js'
import { parseCsvBatch, parseCsvDimension, parseCsvTime, parseProviderId } from '../ingest/values.js'
import { billPeriodProblem, parseAmount, parseCurrency } from './billed-row.js'
import { billedPresent } from './billed-shapes.js'
import { parseOpenAILineItem } from './line-items.js'
import type { CostDefaults, ParsedCosts } from './parse-cost-pages.js'

/**
 * The OpenAI dashboard cost export (`start_time,end_time,start_time_iso,end_time_iso,amount_value,
 * amount_currency,line_item,project_id,organization_id,organization_name`, and the costs mirror's
 * extra columns `api_key_id,quantity,quantity_unit`). Amounts are exact decimal text however long
 * (`0.8958740000000000`); a row with an empty amount is a day without cost and is skipped, one with an
 * amount and a blank `amount_currency` cell is refused (never read as USD);
 * `organization_id` is the account unless `?account_id=` names one. Lines are 1-based, header = 1.
 * The ledger's own export adds the rest of each cost's key (BILLED_DETAIL_COLUMNS): with a `token_type`
 * column, model, tiers and token type are read from their columns, as stored, instead of from the line
 * item's text; a `provider` cell names the row's provider (else `?provider=`, else openai).
 */
export async function parseCostCsv(input: Readable, defaults: CostDefaults): Promise<ParsedCosts> {
  const out: ParsedCosts = { rows: [], received: 0, skipped: 0, usageResults: 0, problems: new ProblemList() }
  let columns: Map<string, number> | undefined
  await readCsvRecords(input, (record, line) => {
    if (record.length === 1 && record[0] === '') return
    if (!columns) {
      // A column named twice is refused, as by the usage CSV: the map kept one of them, so every data line
      // had "more fields than the header" — a problem per line that named neither the column nor the header.
      columns = new Map()
      const twice = new Set<string>()
      for (const [i, raw] of record.entries()) {
        const name = raw.trim().replace(/^\uFEFF/, '')
        if (columns.has(name)) twice.add(name)
        columns.set(name, i)
      }
      const headerProblems = [
        ...[...twice].map((name) => ({ line: 1, path: name, message: `column "${name}" appears twice` })),
        ...(['start_time', 'end_time'] as const).filter((c) => !columns!.has(c) && !columns!.has(`${c}_iso`)).map((c) => ({ line: 1, path: c, message: `the header has no ${c} or ${c}_iso column` })),
        ...(columns.has('amount_value') ? [] : [{ line: 1, path: 'amount_value', message: 'the header has no amount_value column' }]),
      ]
      if (headerProblems.length) throw problemCatalogue.validation(headerProblems, 'the CSV header is not a cost export header')
      return
    }
    out.received++
    const p = new RowProblems({ line })
    if (record.length !== columns.size) return void out.problems.push({ line, path: '', message: `has ${record.length} fields; the header has ${columns.size}` })
    const cell = (name: string) => {
      const i = columns!.get(name)
      return i === undefined ? '' : record[i]!
    }
    const amountText = cell('amount_value').trim()
    if (amountText === '') return void out.skipped++
    const dim = (name: string) => p.take(parseCsvDimension(cell(name)), name, null)
    const time = (name: 'start_time' | 'end_time') => {
      const { path, parsed } = parseCsvTime(cell, name)
      return p.take<number | undefined>(parsed, path, undefined)
    }
    const lineItem = dim('line_item')
    const detailed = columns!.has('token_type')
    const item = lineItem === null || detailed ? undefined : parseOpenAILineItem(lineItem)
    // A file without the column states no currency (v1 is USD only); a blank cell in it is a damaged row.
    const currency = columns!.has('amount_currency') ? p.take(parseCurrency(cell('amount_currency')), 'amount_currency', 'USD') : 'USD'
    const quantityText = cell('quantity').trim()
    const projectId = dim('project_id')
    const apiKeyId = dim('api_key_id')
    const orgId = dim('organization_id')
    const row = {
      lineItem,
      tokenType: detailed ? dim('token_type') : null,
      costType: detailed ? dim('cost_type') : null,
      amount: p.take(parseAmount(amountText), 'amount_value', '0'),
      currency,
      quantity: quantityText === '' ? null : p.take(parseAmount(quantityText, { nonNegative: true }), 'quantity', null),
      quantityUnit: dim('quantity_unit'),
    }
    const dims = assembleDims(
      {
        startMs: time('start_time'),
        endMs: time('end_time'),
        provider: p.take(parseProviderId(cell('provider') || null), 'provider', null) ?? defaults.provider ?? 'openai',
        accountId: defaults.accountId ?? orgId,
        projectId,
        userId: null,
        apiKeyId,
        ...(detailed
          ? {
              model: dim('model'),
              serviceTier: dim('service_tier'),
              batch: p.take(parseCsvBatch(cell('batch')), 'batch', null),
              contextTier: dim('context_tier'),
              inferenceGeo: dim('inference_geo'),
            }
          : { model: item?.model ?? null, serviceTier: item?.serviceTier ?? null, batch: item ? item.batch : null }),
      },
      p,
    )
    const period = dims ? billPeriodProblem(dims.startMs, dims.endMs) : undefined
    if (period) p.add(columns!.has('end_time') ? 'end_time' : 'end_time_iso', period)
    if (p.length || !dims) return void out.problems.append(p)
    out.rows.push({ ref: line, row: { ...row, ...dims, present: billedPresent({ projectId, apiKeyId, lineItem }) } })
  })
  if (!columns) throw problemCatalogue.validation([{ line: 1, path: '', message: 'the CSV is empty' }], 'the CSV has no header')
  return out
}
