import { z } from 'zod'
import { dimensionText, providerIdText } from '../text-schema.js'
import { COUNTER_FIELDS, type CounterField } from '../token-classes.js'
import { InstantInputSchema } from '../../time/instant-schema.js'

/** The largest request `POST /v1/usage/events` accepts; more is refused as a whole. */
export const MAX_EVENTS_PER_REQUEST = 10_000
/** `metadata` is stored with the event; its JSON text may not exceed this many UTF-8 bytes. */
export const MAX_METADATA_BYTES = 8 * 1024
/** Resources one event may carry. */
const MAX_EVENT_RESOURCES = 100
/** Labels one event may carry (each key and value a bounded text): they are stored with the event, like metadata. */
export const MAX_EVENT_LABELS = 100

const Counter = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER, 'must be ≤ 2^53−1')
  .nullable()
  .optional()
// Texts are at most MAX_DIMENSION_LENGTH characters (maxLength in the generated schema).
const Dimension = (what: string) => dimensionText().nullable().optional().describe(what)

const counterShape = Object.fromEntries(COUNTER_FIELDS.map((f) => [f, Counter])) as Record<
  CounterField,
  typeof Counter
>

export const EventSchema = z
  .strictObject({
    id: dimensionText().describe("The client's idempotency key, unique per tenant"),
    timestamp: InstantInputSchema.describe('When the request was made: RFC 3339, or unix seconds'),
    model: dimensionText(),
    provider: providerIdText().optional().describe('Default "openai"; folded to lower case; also selects the `usage` mapper'),
    account_id: Dimension('Provider account (organization) id'),
    project_id: Dimension('Project id'),
    user_id: Dimension('User id'),
    api_key_id: Dimension('Provider API key id'),
    service_tier: dimensionText()
      .nullable()
      .optional()
      .describe('null, "standard" and "auto" are stored as "default"; "batch" means batch: true. Absent or null: a raw Anthropic `usage` object\'s `service_tier`, if any'),
    batch: z.boolean().nullable().optional(),
    context_tier: Dimension('Context-length tier the call was billed at, e.g. "0-200k" or "200k-1M", as Anthropic reports context_window'),
    inference_geo: Dimension('Where the call was served, e.g. "global" or "us"; absent or null: a raw Anthropic `usage` object\'s `inference_geo`, if any'),
    ...counterShape,
    usage: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .describe('A raw provider `usage` object (OpenAI Chat/Responses, OpenRouter, Anthropic), instead of the counters'),
    resources: z
      .array(z.unknown())
      .max(MAX_EVENT_RESOURCES)
      .nullable()
      .optional()
      .describe(
        'Non-token usage of the call, beside or instead of token counters: [{resource, quantity, attributes}] — resource matching [a-z0-9_]{1,64} (not "tokens"), quantity a decimal string or number ≥ 0, attributes string → string',
      ),
    endpoint: Dimension('e.g. "/v1/chat/completions"'),
    request_type: Dimension('Application-defined request type'),
    session_id: Dimension('Conversation or session id'),
    employee_id: Dimension('Employee the call is attributed to'),
    agent_id: Dimension('Agent the call is attributed to'),
    labels: z
      .record(dimensionText(), dimensionText({ allowEmpty: true }))
      .check(z.refine((labels) => Object.keys(labels).length <= MAX_EVENT_LABELS, { message: `at most ${MAX_EVENT_LABELS} labels` }))
      .nullable()
      .optional()
      .describe(`Application-defined labels, string → string, at most ${MAX_EVENT_LABELS}`),
    metadata: z
      .record(z.string(), z.unknown())
      .nullable()
      .optional()
      .describe(`Free-form JSON object, at most ${MAX_METADATA_BYTES} bytes serialised`),
    reported_cost: z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'must be a plain decimal string ≥ 0, e.g. "0.0123"')
      .nullable()
      .optional()
      .describe("A cost the provider reported (decimal string); a raw OpenRouter usage's `cost` fills it"),
  })
  .meta({ id: 'UsageEvent', description: 'One LLM call reported by the application' })

export type EventInput = z.infer<typeof EventSchema>

export const EventResultSchema = z
  .object({
    id: z.string().nullable().describe('The event id; null when the item had none'),
    status: z.enum(['created', 'duplicate', 'rejected']),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'UsageEventResult' })

export type EventResult = z.infer<typeof EventResultSchema>
