import { readFileSync } from 'node:fs'
import t from 'tap'
import { parseAnthropicPages } from '../../src/ingest/anthropic-usage.js'

const FIXTURE = new URL('../../../shared/fixtures/anthropic/anthropic_usage_report_messages_example_2026.json', import.meta.url)

/** One Anthropic usage page with one result: the fixture's counters, the given account fields. */
function page(accounts: Record<string, unknown>) {
  return {
    data: [
      {
        starting_at: '2025-08-01T00:00:00Z',
        ending_at: '2025-08-02T00:00:00Z',
        results: [{ model: 'claude-sonnet-4-20250514', uncached_input_tokens: 10, output_tokens: 5, ...accounts }],
      },
    ],
    has_more: false,
    next_page: null,
  }
}

t.test('service_account_id is checked when account_id is given too, as account_id is', async (t) => {
  for (const bad of ['svc\u0000x', 42, 's'.repeat(257), '', '\ud800']) {
    const r = await parseAnthropicPages(page({ account_id: 'user_1', service_account_id: bad }), {})
    t.same(r.problems.items.map((p) => [p.index, p.path]), [[0, 'service_account_id']], JSON.stringify(bad).slice(0, 40))
  }
  // Both valid: the user account is the user (contract: the service account only when account_id is null).
  const both = await parseAnthropicPages(page({ account_id: 'user_1', service_account_id: 'svc_1' }), {})
  t.same(both.problems.items, [])
  t.equal(both.rows[0]!.bucket.userId, 'user_1')
  const service = await parseAnthropicPages(page({ account_id: null, service_account_id: 'svc_1' }), {})
  t.equal(service.rows[0]!.bucket.userId, 'svc_1')
  // The other order: a bad account_id beside a good service account is named too.
  const badUser = await parseAnthropicPages(page({ account_id: 7, service_account_id: 'svc_1' }), {})
  t.same(badUser.problems.items.map((p) => p.path), ['account_id'])
})

t.test('the 2026 fixture (account_id and service_account_id) still reads without problems', async (t) => {
  const r = await parseAnthropicPages(JSON.parse(readFileSync(FIXTURE, 'utf8')), {})
  t.same(r.problems.items, [])
  t.ok(r.rows.length > 0)
})
