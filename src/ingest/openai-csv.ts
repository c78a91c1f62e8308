import type { Readable } from 'node:stream'
import { ProblemList, problems as problemCatalogue } from '../errors.js'
import { costsBodyDetail, notUsage } from './costs-posted.js'
import { readCsvRecords } from './csv-records.js'
import { assembleBucket, parseUsageType, readCounters, RowProblems, type NormalisedBucket, type RowDefaults } from './bucket.js'
import { COUNTER_FIELDS, type CounterField } from './token-classes.js'
import { parseCsvBatch, parseCsvCounter, parseCsvDimension, parseCsvTime, parseProviderId } from './values.js'

export interface CsvSummary {
  /** Data rows (the header is not one), including skipped ones. */
  received: number
  /** Rows with no usage: every counter blank (the export writes a day without usage that way). */
  skipped: number
  problems: ProblemList
}

type Columns = Map<string, number>

/** The cost export's money column (src/billing/parse-cost-csv.ts), which no usage export has. */
const COST_AMOUNT_COLUMN = 'amount_value'

// context_tier and inference_geo are not in OpenAI's export; our usage export writes them (blank unless
// grouped by) so that its file re-ingests with the same natural keys.
const TEXT_COLUMNS = ['account_id', 'project_id', 'user_id', 'api_key_id', 'model', 'service_tier', 'context_tier', 'inference_geo'] as const

function readHeader(record: string[]): Columns {
  const columns: Columns = new Map()
  const problems = new ProblemList()
  const unnamed: number[] = []
  record.forEach((name, i) => {
    const key = name.trim().replace(/^\uFEFF/, '')
    // A lone CR outside quotes is refused by readCsvRecords; a quoted name may still hold a line break,
    // which was told "records must end with LF or CRLF" — about line ends the file had right. Trimmed at
    // an end it named a real column ("input_tokens\r"); inside, no column.
    if (/[\r\n]/.test(name))
      problems.push({ line: 1, path: '', message: `column ${i + 1} (counted from 1) is named ${JSON.stringify(name)}: a column name must not hold a line break (CR or LF)` })
    else if (key === '') unnamed.push(i + 1)
    else if (columns.has(key)) problems.push({ line: 1, path: key, message: `column "${key}" appears twice` })
    columns.set(key, i)
  })
  // One unnamed column is ignored, as an unknown column is (a header ending in ","); two or more were
  // refused as 'column "" appears twice', naming neither where they are nor what is wrong.
  if (unnamed.length > 1)
    problems.push({
      line: 1,
      path: '',
      message: `columns ${unnamed.slice(0, -1).join(', ')} and ${unnamed.at(-1)} (counted from 1) have no name: at most one column may be unnamed (its cells are ignored); remove the empty names${unnamed.at(-1) === record.length ? ' (the header ends with ",,")' : ''}`,
    })
  for (const [a, b] of [['start_time', 'start_time_iso'], ['end_time', 'end_time_iso']] as const)
    if (!columns.has(a) && !columns.has(b)) problems.push({ line: 1, path: a, message: `the header needs a ${a} or ${b} column` })
  // Our resource usage exports (images, storage, search calls…) carry num_model_requests too, so they would read
  // as token rows without tokens: every row skipped, a 200 that stored nothing.
  // The dashboard cost export has times but no counters: billed money, refused naming where it goes.
  const costExport = !COUNTER_FIELDS.some((f) => columns.has(f)) && columns.has(COST_AMOUNT_COLUMN)
  if (columns.has('resource'))
    problems.push({ line: 1, path: 'resource', message: 'a resource usage export (it has a "resource" column) has no CSV ingest: post the usage page as JSON' })
  else if (costExport)
    problems.push({ line: 1, path: COST_AMOUNT_COLUMN, message: notUsage(`a cost export (it has an "${COST_AMOUNT_COLUMN}" column and no usage column) is billed costs`) })
  else if (!COUNTER_FIELDS.some((f) => columns.has(f)))
    problems.push({ line: 1, path: '', message: 'the header names no usage column (input_tokens, output_tokens, …)' })
  if (problems.length > 0)
    throw problemCatalogue.validation(problems, costExport ? costsBodyDetail('an OpenAI cost export (CSV)') : 'the CSV header is not a usage export header')
  return columns
}

/** One data row → a bucket, or undefined when skipped or bad (problems are recorded). */
function readRow(
  record: string[],
  columns: Columns,
  defaults: RowDefaults,
  p: RowProblems,
): NormalisedBucket | 'skipped' | undefined {
  if (record.length !== columns.size) {
    p.add('', `has ${record.length} fields; the header has ${columns.size}`)
    return undefined
  }
  const cell = (name: string): string | undefined => {
    const i = columns.get(name)
    return i === undefined ? undefined : record[i]
  }
  // Blank is empty: a counter of spaces is read (and refused), not taken for "no usage".
  if (COUNTER_FIELDS.every((f) => (cell(f) ?? '') === '')) return 'skipped'
  const text: Partial<Record<(typeof TEXT_COLUMNS)[number], string | null>> = {}
  for (const name of TEXT_COLUMNS) {
    const raw = cell(name)
    text[name] = raw === undefined ? null : p.take(parseCsvDimension(raw), name, null)
  }
  const time = (name: 'start_time' | 'end_time'): number | undefined => {
    const { path, parsed } = parseCsvTime(cell, name)
    return p.take<number | undefined>(parsed, path, undefined)
  }
  const batchCell = cell('batch')
  return assembleBucket(
    {
      startMs: time('start_time'),
      endMs: time('end_time'),
      provider: p.take(parseProviderId(cell('provider') || null), 'provider', null) ?? defaults.provider ?? 'openai',
      accountId: text.account_id ?? defaults.accountId ?? null,
      projectId: text.project_id ?? null,
      userId: text.user_id ?? null,
      apiKeyId: text.api_key_id ?? null,
      model: text.model ?? null,
      serviceTier: text.service_tier ?? null,
      contextTier: text.context_tier ?? null,
      inferenceGeo: text.inference_geo ?? null,
      batch: batchCell === undefined ? null : p.take(parseCsvBatch(batchCell), 'batch', null),
      // Not in OpenAI's export (completions only); ours of embeddings and moderations write it, so they re-ingest as what they are.
      usageType: p.take(parseUsageType(cell('usage_type')?.trim() || undefined), 'usage_type', 'completions'),
      counters: readCounters((f: CounterField) => cell(f), (v) => parseCsvCounter(v as string), p),
    },
    p,
  )
}

/**
 * Form 3: an OpenAI dashboard usage export, parsed as a stream (memory does not grow with the file).
 * Every valid row is handed to `onRow` in file order; bad rows are collected with their 1-based line.
 * The caller decides what to do with the rows it was given when problems come back (roll back).
 */
export async function readUsageCsv(
  input: Readable,
  defaults: RowDefaults,
  onRow: (bucket: NormalisedBucket, line: number) => void | Promise<void>,
): Promise<CsvSummary> {
  let columns: Columns | undefined
  const summary: CsvSummary = { received: 0, skipped: 0, problems: new ProblemList() }
  await readCsvRecords(input, (record, line) => {
    if (record.length === 1 && record[0] === '') return
    if (!columns) {
      columns = readHeader(record)
      return
    }
    summary.received++
    const p = new RowProblems({ line })
    const row = readRow(record, columns, defaults, p)
    if (row === 'skipped') summary.skipped++
    else if (row) return onRow(row, line)
    else summary.problems.append(p)
  })
  if (!columns) throw problemCatalogue.validation([{ line: 1, path: '', message: 'the CSV is empty' }], 'the CSV has no header')
  return summary
}
