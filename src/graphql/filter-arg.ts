import type { UsageFilter } from '../usage/dimensions.js'

/** A `filter` argument as the query layer takes it: GraphQL nulls mean "not given", which is undefined there. */
export const filterArg = (filter: UsageFilter | null | undefined): UsageFilter =>
  Object.fromEntries(Object.entries(filter ?? {}).filter(([, v]) => v !== null && v !== undefined)) as UsageFilter
