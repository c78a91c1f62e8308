import { GraphQLError, Kind, type SelectionSetNode, type ValidationContext, type ValidationRule } from 'graphql'
import { fragmentsOf } from './fragments.js'

/**
 * A bound on how many fields an operation selects once its fragments are expanded. A 2 KB document can
 * spread fragments in a doubling chain (`F1 { ...F0 ...F0 } … F40 { ...F39 ...F39 }`): 2^40 selections
 * once expanded. Checking it is linear (each fragment's size is computed once); anything that expands
 * it — graphql-jit compiling the query on its second request did — would freeze the server. GraphiQL's
 * introspection query expands to a few hundred fields.
 */
export function selectionLimit(max: number): ValidationRule {
  return (context: ValidationContext) => {
    const fragments = fragmentsOf(context.getDocument())
    const fragmentSize = new Map<string, number>()
    const sizeOf = (set: SelectionSetNode | undefined, seen: ReadonlySet<string>): number => {
      let size = 0
      for (const sel of set?.selections ?? []) {
        if (sel.kind === Kind.FIELD) size += 1 + sizeOf(sel.selectionSet, seen)
        else if (sel.kind === Kind.INLINE_FRAGMENT) size += sizeOf(sel.selectionSet, seen)
        else {
          const name = sel.name.value
          const fragment = fragments.get(name)
          // Unknown and cyclic spreads are reported by graphql-js's own rules; here they count nothing.
          if (!fragment || seen.has(name)) continue
          let s = fragmentSize.get(name)
          if (s === undefined) fragmentSize.set(name, (s = sizeOf(fragment.selectionSet, new Set([...seen, name]))))
          size += s
        }
      }
      return size
    }
    return {
      OperationDefinition(op) {
        const size = sizeOf(op.selectionSet, new Set())
        if (size > max)
          context.reportError(
            new GraphQLError(`the operation selects ${size > 1e15 ? size.toExponential(1) : size} fields once its fragments are expanded; the limit is ${max}`, {
              nodes: op,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
            }),
          )
      },
    }
  }
}
