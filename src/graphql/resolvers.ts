import type { GraphQLScalarType } from 'graphql'
import type { IResolvers, MercuriusContext } from 'mercurius'
import { listBudgetViews } from '../budgets/budget-views.js'
import type { Db } from '../db/client.js'
import type { Dimension, UsageFilter } from '../usage/dimensions.js'
import { queryEventsPage, type EventArgs } from '../usage/events-service.js'
import { queryUsageViews } from '../usage/usage-service.js'
import type { TenantGate } from '../usage/tenant-gate.js'
import type { Window } from '../usage/windows.js'
import { reconciliationResolvers } from './reconciliation-resolvers.js'
import { Decimal, DateTime, JSONScalar, Long } from './scalars.js'
import { connectionsQuery } from './connections-resolvers.js'
import { filterArg } from './filter-arg.js'

declare module 'mercurius' {
  interface MercuriusContext {
    tenantId: string
    db: Db
    maxGroups: number
    gate: TenantGate
    /** Aborts when the client disconnects: database work is cancelled (PostgreSQL). */
    signal: AbortSignal
  }
}

interface UsageQueryArgs {
  from: Date
  to: Date
  window: Window
  timeZone: string
  groupBy: Dimension[]
  groupByLabels: string[]
  groupByAttributes?: string[] | null
  filter?: UsageFilter | null
  rateCard: string
  pricingAsOf?: Date | null
  first: number
  after?: string | null
}

/**
 * A scalar's behaviour only. mercurius copies every own property of a scalar resolver onto the SDL's type,
 * so a whole GraphQLScalarType (description and astNode undefined) would erase the committed SDL's
 * documentation from what introspection serves (test/graphql/schema.test.ts compares the two).
 */
const behaviour = (s: GraphQLScalarType) =>
  ({ serialize: s.serialize, parseValue: s.parseValue, parseLiteral: s.parseLiteral }) as unknown as GraphQLScalarType

/** Thin: map arguments, call the shared query layer, shape the page. */
export const resolvers: IResolvers = {
  DateTime: behaviour(DateTime),
  Long: behaviour(Long),
  Decimal: behaviour(Decimal),
  JSON: behaviour(JSONScalar),
  Query: {
    ...reconciliationResolvers,
    usage: async (_root: unknown, args: UsageQueryArgs, ctx: MercuriusContext) => {
      // Rows as views: only the fields the query selects are mapped (src/usage/row-views.ts).
      const page = await queryUsageViews(
        ctx.db,
        {
          tenantId: ctx.tenantId,
          from: args.from,
          to: args.to,
          timeZone: args.timeZone ?? 'UTC',
          window: args.window ?? 'DAY',
          groupBy: args.groupBy ?? [],
          groupByLabels: args.groupByLabels ?? [],
          groupByAttributes: args.groupByAttributes ?? [],
          filter: filterArg(args.filter),
          rateCard: args.rateCard ?? 'default',
          pricingAsOf: args.pricingAsOf ?? undefined,
          first: args.first ?? 100,
          after: args.after ?? undefined,
        },
        { maxGroups: ctx.maxGroups, gate: ctx.gate, signal: ctx.signal },
      )
      return {
        rows: page.rows,
        totals: page.totals,
        sources: page.sources,
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      }
    },
    budgets: (_root: unknown, args: { at?: Date | null }, ctx: MercuriusContext) =>
      listBudgetViews(ctx.db, ctx.tenantId, args.at ?? undefined, { maxGroups: ctx.maxGroups, gate: ctx.gate, signal: ctx.signal }),
    connections: connectionsQuery,
    events: async (_root: unknown, args: Omit<EventArgs, 'tenantId'>, ctx: MercuriusContext) => {
      const page = await queryEventsPage(ctx.db, {
        ...args,
        filter: filterArg(args.filter),
        rateCard: args.rateCard ?? 'default',
        timeZone: args.timeZone ?? 'UTC',
        orderBy: args.orderBy ?? 'TIME_DESC',
        first: args.first ?? 100,
        tenantId: ctx.tenantId,
      }, ctx.gate, ctx.signal)
      return {
        rows: page.rows,
        totals: page.totals,
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      }
    },
  },
}
