import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { createdEventSpan } from '../../budgets/ingest-span.js'
import { EventResultSchema, MAX_EVENTS_PER_REQUEST } from '../../ingest/events/event-schema.js'
import { createEventBatcher } from '../../ingest/events/event-batcher.js'
import { envelopeProtoKeys, protoKeysRefusal } from '../../ingest/events/proto-keys.js'
import { MAX_EVENT_PROBLEMS } from '../../ingest/events/normalize-event.js'
import { retentionGuard } from '../../ingest/retention.js'
import { problemResponses } from '../shared-schemas.js'

// Items are validated one by one after the body is accepted (a bad item is rejected on its own), so the
// body schema only checks the envelope; the item schema is published as the `UsageEventInput` component.
const EVENT_DESCRIPTION = [
  'A UsageEvent (schema `UsageEventInput`): `id`, `timestamp` (RFC 3339 or unix seconds) and `model` are required;',
  '`provider` (default "openai"), `account_id`, `project_id`, `user_id`, `api_key_id`, `service_tier`, `batch`;',
  'the token counters of a Bucket (`input_tokens`, `output_tokens`, `input_cached_tokens`, …) or a raw provider',
  '`usage` object (OpenAI Chat/Responses, OpenRouter, Anthropic — chosen by `provider`); `endpoint`, `request_type`,',
  '`session_id`, `employee_id`, `agent_id`, `labels` (string → string), `metadata` (object, ≤ 8 KiB) and',
  '`reported_cost` (decimal string). An invalid item is rejected on its own; the others are stored.',
].join(' ')

const EventsBodySchema = z.object({
  events: z.array(z.unknown().describe(EVENT_DESCRIPTION)).max(MAX_EVENTS_PER_REQUEST),
})

const EventsResponseSchema = z.object({
  results: z.array(EventResultSchema).describe('One result per event, in input order'),
})

/** `retentionMonths`: RETENTION_MONTHS — events before its cutoff are rejected (src/ingest/retention.ts). */
const usageEventRoutes: FastifyPluginAsyncZod<{ retentionMonths?: number | undefined; maxWaitMs?: number | undefined }> = async (app, opts) => {
  // Concurrent small requests of a tenant share one commit; each is still answered only after it.
  const batcher = createEventBatcher(app.db, {
    maxWaitMs: opts.maxWaitMs,
    onFallback: (err, requests) =>
      app.log.warn({ err, requests }, 'grouped event insert failed; storing its requests one by one'),
  })
  app.post(
    '/usage/events',
    {
      onRequest: app.auth.tenant('ingest'),
      // A NUL, or a `__proto__` / `constructor.prototype` key, in one event rejects that event only
      // (normalize-event.ts), not the batch.
      config: { nulCheckedPerItem: true, protoKeysPerItem: true },
      // Outside the events, such a key refuses the body, as in every other JSON body.
      preValidation: async (req) => {
        // Listed as an event's are, at most MAX_EVENT_PROBLEMS: the walk stops at the one past them.
        const found = envelopeProtoKeys(req.body, MAX_EVENT_PROBLEMS)
        if (found.length) throw protoKeysRefusal(found, MAX_EVENT_PROBLEMS)
      },
      schema: {
        tags: ['usage'],
        operationId: 'ingestUsageEvents',
        summary: 'Record per-request usage events (idempotent by id; each event stands alone)',
        description:
          'Each event is `created`, `duplicate` (same id, same content: nothing changes) or `rejected` (invalid, or ' +
          'same id with different content). The whole request is refused only for invalid JSON, a missing `events` ' +
          `array, more than ${MAX_EVENTS_PER_REQUEST} events, a body over the size limit, or a key \`__proto__\` (or ` +
          '`constructor` holding `prototype`) outside the events — inside one, it rejects that event. With RETENTION_MONTHS set, an ' +
          'event before the retention cutoff is rejected (the hourly rollups keep those hours; it would count twice).',
        body: EventsBodySchema,
        response: { 200: EventsResponseSchema, ...problemResponses(400, 401, 403, 413, 415, 503) },
      },
    },
    async (req) => {
      const results = await batcher.ingest(req.tenantId, req.body.events, retentionGuard(opts.retentionMonths))
      for (const r of results) app.metrics.events.inc({ status: r.status })
      app.budgets.afterIngest(req.tenantId, createdEventSpan(req.body.events, results), 'events')
      return { results }
    },
  )
}

export default usageEventRoutes
