// Deterministic benchmark data: generated buckets (SQL), JSON bucket rows, OpenAI dashboard CSV export
// rows and single events. The same generators feed tokenledger and its baselines, so both sides of a
// pair get the same rows.
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type { Db } from '../../src/db/client.js'

export const MODELS = ['gpt-5-2025-08-07', 'gpt-5-mini-2025-08-07', 'gpt-5-nano-2025-08-07', 'gpt-4.1-2025-04-14', 'gpt-4o-2024-08-06', 'gpt-4o-mini-2024-07-18', 'o3-2025-04-16', 'o4-mini-2025-04-16', 'gpt-4.1-mini-2025-04-14', 'unknown-model']

/** The query window of rows 4–6: the 30 days the generated buckets cover. */
export const RANGE = { from: '2025-10-01T00:00:00Z', to: '2025-10-31T00:00:00Z' }

/**
 * `n` hourly buckets over the 30 days of RANGE for `tenant`, generated in SQL. Inserted straight into
 * usage_buckets, so whatever the schema maintains from that table (rollups by trigger) is maintained.
 */
export async function generateBuckets(db: Db, tenant: string, n: number): Promise<void> {
  const perHour = Math.ceil(n / 720)
  // In statements of at most 1M rows, so a 10M-row run never builds one huge insert.
  for (let from = 0; from < n; from += 1_000_000) await generateRange(db, tenant, perHour, from, Math.min(n, from + 1_000_000))
}

async function generateRange(db: Db, tenant: string, perHour: number, from: number, to: number): Promise<void> {
  await db.query(
    `insert into usage_buckets (tenant_id, provider, start_time, end_time, project_id, user_id, api_key_id, model,
       service_tier, batch, num_model_requests, input_tokens, output_tokens, in_text, cached_text, out_text, source)
     select $1, 'openai', t, t + interval '1 hour', 'proj_' || (i % 50), 'user_' || (i % 20), 'key_' || i,
       ($2::text[])[1 + (i % 10)], 'default', false, 1 + i % 7, 1000 + i % 997 + 200, 300 + i % 101,
       1000 + i % 997, 200, 300 + i % 101, 'openai_api'
     from generate_series($3::int4, $4::int4 - 1) as g(n),
       lateral (select timestamptz '2025-10-01T00:00:00Z' + ((n / $5) * interval '1 hour') as t, n % $5 as i) x`,
    [tenant, MODELS, from, to, perHour],
  )
}

export interface JsonBucket {
  start_time: number
  end_time: number
  model: string
  project_id: string
  api_key_id: string
  num_model_requests: number
  input_tokens: number
  input_cached_tokens: number
  output_tokens: number
}

/** Hourly buckets with distinct natural keys (api_key_id is unique per row). */
export function bucketRows(n: number, offset: number): JsonBucket[] {
  return Array.from({ length: n }, (_, k) => {
    const i = offset + k
    const start = 1_759_276_800 + (i % 720) * 3600
    return {
      start_time: start,
      end_time: start + 3600,
      model: MODELS[i % 10]!,
      project_id: `proj_${i % 50}`,
      api_key_id: `key_${i}`,
      num_model_requests: 3,
      input_tokens: 1200 + (i % 997),
      input_cached_tokens: 200,
      output_tokens: 300 + (i % 101),
    }
  })
}

/** The columns of the dashboard's `completions_usage_<from>_<to>.csv` export. */
export const CSV_HEADER =
  'start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,user_id,api_key_id,model,batch,service_tier,' +
  'input_tokens,output_tokens,input_cached_tokens,input_uncached_tokens,input_text_tokens,output_text_tokens,' +
  'input_cached_text_tokens,input_audio_tokens,input_cached_audio_tokens,output_audio_tokens,input_image_tokens,' +
  'input_cached_image_tokens,output_image_tokens'

const iso = (s: number) => new Date(s * 1000).toISOString().replace('.000Z', '+00:00')

/**
 * Row `i` of an export: daily buckets over 30 days × projects × users × keys × models, every natural
 * key distinct except that every 50th row repeats the previous row's key (real exports split a bucket
 * by dimensions they do not show; tokenledger sums such rows). Chunks that start at a multiple of 50
 * keep each such pair together.
 */
export function csvLine(i: number): string {
  const k = i % 50 === 49 ? i - 1 : i
  const start = 1_759_276_800 + (k % 30) * 86_400
  const rest = Math.floor(k / 30)
  const cached = (i * 7) % 5000
  const uncached = 1000 + ((i * 13) % 90_000)
  const output = 100 + ((i * 17) % 40_000)
  return [
    start, start + 86_400, iso(start), iso(start + 86_400), `proj_${rest % 500}`, `${1 + (i % 40)}.0`, `user-${rest % 37}`,
    `key_${Math.floor(rest / 4000)}`, MODELS[Math.floor(rest / 500) % 8], 'FALSE', 'default',
    `${cached + uncached}.0`, `${output}.0`, `${cached}.0`, `${uncached}.0`, `${uncached}.0`, `${output}.0`, `${cached}.0`,
    '0.0', '0.0', '0.0', '0.0', '0.0', '0.0',
  ].join(',')
}

export function csvChunk(n: number, offset: number): string {
  const lines = [CSV_HEADER]
  for (let i = offset; i < offset + n; i++) lines.push(csvLine(i))
  return `${lines.join('\n')}\n`
}

/** Writes an export of `rows` rows to `path` (streamed, so a 10M-row file never sits in memory). */
export async function writeCsvFile(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path)
  out.write(`${CSV_HEADER}\n`)
  for (let i = 0; i < rows; i++) {
    if (!out.write(`${csvLine(i)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()))
  }
  out.end()
  await finished(out)
}

const EVENT_MODELS = ['gpt-4o', 'gpt-4o-mini', 'o4-mini', 'gpt-5']

/** A realistic single event: a few dimensions, labels on some, a raw provider `usage` object on half. */
export function event(id: string, i: number): Record<string, unknown> {
  const base = {
    id,
    timestamp: 1_772_323_200 + (i % 86_400),
    model: EVENT_MODELS[i % EVENT_MODELS.length],
    project_id: `proj-${i % 5}`,
    user_id: `user-${i % 50}`,
    session_id: `sess-${i % 200}`,
    endpoint: '/v1/chat/completions',
    labels: i % 3 === 0 ? { team: `t${i % 4}` } : {},
  }
  return i % 2
    ? { ...base, input_tokens: 500 + (i % 700), input_cached_tokens: i % 400, output_tokens: 20 + (i % 300) }
    : { ...base, usage: { prompt_tokens: 800, completion_tokens: 90, prompt_tokens_details: { cached_tokens: 256 } } }
}

/** Request bodies with one event each, whose id is the placeholder `[<id>]` (the load generator fills it). */
export function singleEventBodies(count = 200): string[] {
  return Array.from({ length: count }, (_, i) => JSON.stringify({ events: [event('[<id>]', i)] }))
}
