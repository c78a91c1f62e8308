import { z } from 'zod'
import { BILLED_GROUP_BY_NAMES } from '../../billing/billed-shapes.js'
import { dimensionText, providerIdText } from '../../ingest/text-schema.js'
import { InstantParamSchema } from '../../time/instant-schema.js'
import { strictQuery } from '../shared-schemas.js'

// Documentation of the accepted bodies; rows are checked in src/billing so that every bad row is named.
const Time = z.union([z.number().int().min(0), z.string()]).describe('unix seconds or an RFC 3339 time')

const OpenAICostsPage = z
  .object({
    object: z.string().optional(),
    data: z.array(
      z
        .object({
          start_time: Time,
          end_time: Time,
          results: z.array(
            z
              .object({
                object: z.literal('organization.costs.result').optional(),
                amount: z.object({ value: z.union([z.number(), z.string()]).nullable(), currency: z.string() }),
                line_item: z.string().nullable().optional(),
                project_id: z.string().nullable().optional(),
                api_key_id: z.string().nullable().optional(),
                quantity: z.union([z.number(), z.string()]).nullable().optional(),
                quantity_unit: z.string().nullable().optional(),
              })
              .catchall(z.unknown()),
          ),
        })
        .catchall(z.unknown()),
    ),
  })
  .catchall(z.unknown())
  .meta({ id: 'OpenAICostsPage', description: 'A page exactly as OpenAI GET /v1/organization/costs returns it (any group_by)' })

const AnthropicCostReportPage = z
  .object({
    data: z.array(
      z
        .object({
          starting_at: z.string(),
          ending_at: z.string(),
          results: z.array(
            z
              .object({
                amount: z.string().describe('decimal string in cents: "123.78912" is $1.2378912'),
                currency: z.string(),
                cost_type: z.string().nullable().optional(),
                token_type: z.string().nullable().optional(),
                description: z.string().nullable().optional(),
                model: z.string().nullable().optional(),
                service_tier: z.string().nullable().optional(),
                context_window: z.string().nullable().optional(),
                inference_geo: z.string().nullable().optional(),
                workspace_id: z.string().nullable().optional(),
              })
              .catchall(z.unknown()),
          ),
        })
        .catchall(z.unknown()),
    ),
  })
  .catchall(z.unknown())
  .meta({ id: 'AnthropicCostReportPage', description: 'A page exactly as Anthropic GET /v1/organizations/cost_report returns it' })

export const BilledCostsBodySchema = z
  .union([OpenAICostsPage, z.array(OpenAICostsPage), AnthropicCostReportPage, z.array(AnthropicCostReportPage)])
  .describe(
    'application/json: an OpenAI costs page or an Anthropic cost_report page, or an array of pages. text/csv: an OpenAI dashboard cost ' +
      'export (start_time,end_time,start_time_iso,end_time_iso,amount_value,amount_currency,line_item,project_id,organization_id,organization_name), ' +
      'or the ledger’s own billed-cost export (GET /v1/organization/costs?cost_source=billed as text/csv), whose trailing columns ' +
      '(provider,model,token_type,cost_type,service_tier,batch,context_tier,inference_geo) are read as stored; up to BILLED_CSV_BODY_LIMIT bytes.',
  )

export const BilledCostsQuerySchema = strictQuery({
  provider: providerIdText().optional().describe('the provider of every row (default openai; anthropic for cost_report pages; a CSV’s provider cell wins; folded to lower case)'),
  account_id: dimensionText().optional().describe('the provider account (organization) of every row; wins over a CSV’s organization_id'),
  group_by: z
    .array(z.enum(BILLED_GROUP_BY_NAMES as [string, ...string[]]))
    .optional()
    .describe('the report shape the pages were requested with (OpenAI or Anthropic names); default: the dimensions non-null in any row'),
})

export const BilledCostsResultSchema = z
  .object({
    received: z.number().int().describe('result rows (JSON) or data lines (CSV) in the request'),
    skipped: z.number().int().describe('rows without an amount'),
    created: z.number().int(),
    replaced: z.number().int(),
    unchanged: z.number().int().describe('distinct keys whose stored amount was already equal'),
  })
  .meta({ id: 'BilledCostsResult', examples: [{ received: 8, skipped: 2, created: 6, replaced: 0, unchanged: 0 }] })

export const DeleteBilledQuerySchema = strictQuery({
  start_time: InstantParamSchema.describe('unix seconds or RFC 3339; costs starting at or after it'),
  end_time: InstantParamSchema.describe('unix seconds or RFC 3339; costs starting before it'),
  account_id: z.string().min(1).optional(),
})
  .refine((q) => q.end_time > q.start_time, { message: 'end_time must be after start_time', path: ['end_time'] })

export const DeleteBilledResultSchema = z.object({ deleted: z.number().int() }).meta({ id: 'DeleteBilledCostsResult', examples: [{ deleted: 6 }] })
