import type { MercuriusContext } from 'mercurius'
import { queryReconciliationPage } from '../reconciliation/reconciliation-service.js'
import type { ReconDimension } from '../reconciliation/recon-types.js'
import type { UsageFilter } from '../usage/dimensions.js'
import { filterArg } from './filter-arg.js'

interface ReconQueryArgs {
  from: Date
  to: Date
  window?: string | null
  groupBy?: ReconDimension[] | null
  filter?: UsageFilter | null
  rateCard?: string | null
  pricingAsOf?: Date | null
  tolerance?: string | null
  first?: number | null
  after?: string | null
}

/** Thin: map arguments, call src/reconciliation, shape the page. */
export const reconciliationResolvers = {
  reconciliation: async (_root: unknown, args: ReconQueryArgs, ctx: MercuriusContext) => {
    const page = await queryReconciliationPage(
      ctx.db,
      {
        tenantId: ctx.tenantId,
        from: args.from,
        to: args.to,
        window: args.window ?? 'DAY',
        groupBy: args.groupBy ?? ['PROVIDER'],
        filter: filterArg(args.filter),
        rateCard: args.rateCard ?? 'default',
        pricingAsOf: args.pricingAsOf ?? undefined,
        tolerance: args.tolerance ?? '0.000001',
        first: args.first ?? 100,
        after: args.after ?? undefined,
      },
      { maxGroups: ctx.maxGroups, gate: ctx.gate, signal: ctx.signal },
    )
    return { rows: page.rows, totals: page.totals, sources: page.sources, pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor } }
  },
}
