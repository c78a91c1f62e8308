import {
  getArgumentValues,
  getVariableValues,
  GraphQLError,
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql'
import type { Window } from '../usage/windows.js'
import { fragmentsOf } from './fragments.js'
import { maxWindows } from '../usage/windows.js'

/**
 * Bounds what one GraphQL request may cost before any resolver runs. Aliases multiply work: 30 aliases
 * of a heavy `usage` held every pooled connection for minutes, and the windows × groups bound was
 * only checked after each query had run. Two checks:
 * - `rootFieldLimit` (validation): at most N distinct root fields (aliases count) per request;
 * - `costLimit` (preExecution, where variables are known): the request's estimated cells — for each
 *   `usage` and `reconciliation`, windows × (1, or GROUP_ESTIMATE when grouped); for each `events`,
 *   its page size — must stay within MAX_RESULT_CELLS.
 */

/** Rows per window a grouped query is assumed to produce before it has run. */
const GROUP_ESTIMATE = 10

/**
 * The root fields of a selection set, fragments expanded. Each named fragment is expanded once: every
 * spread of it at the root selects the same fields, so a repeat adds nothing (response keys merge), and a
 * document spreading fragments in a doubling chain (`F1 { ...F0 ...F0 } … F50 { ...F49 ...F49 }`, 2 KB)
 * stays linear to check instead of 2^50 expansions — the attack that froze the server.
 */
function rootFields(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, expanded = new Set<string>()): FieldNode[] {
  return set.selections.flatMap((sel) => {
    if (sel.kind === Kind.FIELD) return [sel]
    if (sel.kind === Kind.INLINE_FRAGMENT) return rootFields(sel.selectionSet, fragments, expanded)
    const fragment = fragments.get(sel.name.value)
    // Unknown and cyclic spreads are reported by graphql-js's own rules.
    if (!fragment || expanded.has(sel.name.value)) return []
    expanded.add(sel.name.value)
    return rootFields(fragment.selectionSet, fragments, expanded)
  })
}

/** Fields with the same response key are merged by GraphQL and run once; `__typename` costs nothing. */
const responseKeys = (fields: FieldNode[]) =>
  new Set(fields.filter((f) => f.name.value !== '__typename').map((f) => f.alias?.value ?? f.name.value))

export function rootFieldLimit(max: number): ValidationRule {
  return (context: ValidationContext) => ({
    OperationDefinition(op) {
      const keys = responseKeys(rootFields(op.selectionSet, fragmentsOf(context.getDocument())))
      if (keys.size > max)
        context.reportError(
          new GraphQLError(`the operation asks for ${keys.size} root fields (aliases count); the limit is ${max} — send separate requests`, {
            nodes: op,
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
          }),
        )
    },
  })
}

interface CostArgs {
  from?: Date
  to?: Date
  window?: Window
  groupBy?: unknown[]
  groupByLabels?: unknown[]
  groupByAttributes?: unknown[]
  first?: number
}

/** The estimated cells of one root field; 0 when its arguments are invalid (execution reports those). */
function cellsOf(schema: GraphQLSchema, field: FieldNode, variables: Record<string, unknown>, maxCells: number): number {
  const def = schema.getQueryType()?.getFields()[field.name.value]
  if (!def) return 0
  let args: CostArgs
  try {
    args = getArgumentValues(def, field, variables) as CostArgs
  } catch {
    return 0
  }
  if (field.name.value === 'usage') return windowCells(args, maxCells)
  // Reconciliation reads both sides per window and group; windows finer than a day are its own error.
  if (field.name.value === 'reconciliation') return args.window && !RECON_WINDOWS.has(args.window) ? 0 : windowCells(args, maxCells)
  if (field.name.value === 'events') return args.first ?? 100
  return 0
}

const RECON_WINDOWS = new Set<Window>(['DAY', 'WEEK', 'MONTH', 'TOTAL'])

/** windows × (1, or GROUP_ESTIMATE when grouped); the schema's defaults (window DAY, reconciliation's groupBy) are in `args`. */
function windowCells(args: CostArgs, maxCells: number): number {
  if (!(args.from instanceof Date) || !(args.to instanceof Date) || args.to <= args.from) return 0
  const grouped = (args.groupBy?.length ?? 0) + (args.groupByLabels?.length ?? 0) + (args.groupByAttributes?.length ?? 0) > 0
  const windows = maxWindows(args.window ?? 'DAY', args.from, args.to)
  // Too many windows alone: the field's own check refuses it, with its message, before any database work.
  if (windows > maxCells) return 0
  return windows * (grouped ? GROUP_ESTIMATE : 1)
}

/** A request error that the GraphQL error pipeline formats as the GraphQL errors it carries. */
class RequestRefused extends Error {
  readonly errors: GraphQLError[]
  constructor(...errors: GraphQLError[]) {
    super(errors[0]!.message)
    this.errors = errors
  }
}

export function costLimit(opts: { maxCells: number }) {
  return async (schema: GraphQLSchema, document: DocumentNode, _context: unknown, variables: Record<string, unknown> | undefined) => {
    const fragments = fragmentsOf(document)
    let cells = 0
    let fields = 0
    for (const def of document.definitions) {
      if (def.kind !== Kind.OPERATION_DEFINITION || def.operation !== 'query') continue
      // The hook sees the variables as sent; arguments are computed from their coerced values (Dates).
      const coerced = getVariableValues(schema, def.variableDefinitions ?? [], variables ?? {})
      // mercurius refuses such variables before this hook, except on the request that compiles the query
      // (graphql-jit, `jit` in ./index.ts), which skips that check: refused here alike (400, same errors).
      if (coerced.errors) throw new RequestRefused(...coerced.errors)
      const byKey = new Map(rootFields(def.selectionSet, fragments).map((f) => [f.alias?.value ?? f.name.value, f]))
      for (const f of byKey.values()) {
        const c = cellsOf(schema, f, coerced.coerced, opts.maxCells)
        if (c > 0) fields++
        cells += c
      }
    }
    if (cells > opts.maxCells)
      throw new RequestRefused(
        new GraphQLError(
          `the request is estimated at ${cells} result cells across ${fields} field${fields === 1 ? '' : 's'} (windows × groups, ${GROUP_ESTIMATE} groups assumed per grouped window; events count their page size), more than the limit of ${opts.maxCells}; narrow the ranges, use larger windows or send fewer fields`,
          { extensions: { code: 'BAD_USER_INPUT' } },
        ),
      )
  }
}
