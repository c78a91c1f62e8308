import {
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql'
import { fragmentsOf } from './fragments.js'

/**
 * A query-depth limit that GraphiQL's own introspection query passes. mercurius's `queryDepth` counts every
 * field, so the standard introspection query (its `TypeRef` fragment nests `ofType` seven levels) was refused
 * at any sensible limit and GraphiQL had no schema. `ofType` is a non-branching chain (one wrapper type per
 * step, ending in null), so following it costs one object per level and adds no fan-out: it is not counted.
 * Every other field counts one level; fragments and inline fragments add none.
 */
export function depthLimit(maxDepth: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = fragmentsOf(context.getDocument())

    // Memoised per fragment so that a document spreading fragments many times stays linear to check.
    const fragmentDepth = new Map<string, number>()
    const depthOf = (set: SelectionSetNode | undefined, seen: ReadonlySet<string>): number => {
      if (!set) return 0
      let deepest = 0
      for (const sel of set.selections) {
        if (sel.kind === Kind.FIELD) {
          const step = sel.name.value === 'ofType' ? 0 : 1
          deepest = Math.max(deepest, step + depthOf(sel.selectionSet, seen))
        } else if (sel.kind === Kind.INLINE_FRAGMENT) {
          deepest = Math.max(deepest, depthOf(sel.selectionSet, seen))
        } else {
          const name = sel.name.value
          const fragment = fragments.get(name)
          // Unknown and cyclic spreads are reported by graphql-js's own rules; here they count nothing.
          if (!fragment || seen.has(name)) continue
          let d = fragmentDepth.get(name)
          if (d === undefined) fragmentDepth.set(name, (d = depthOf(fragment.selectionSet, new Set([...seen, name]))))
          deepest = Math.max(deepest, d)
        }
      }
      return deepest
    }

    return {
      OperationDefinition(op) {
        const depth = depthOf(op.selectionSet, new Set())
        if (depth > maxDepth) {
          const name = op.name?.value ?? 'the'
          context.reportError(
            new GraphQLError(`${name} operation is ${depth} levels deep; the limit is ${maxDepth}`, {
              nodes: op,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
          )
        }
      },
    }
  }
}
