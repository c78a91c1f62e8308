import { GraphQLError, type ValidationContext, type ValidationRule } from 'graphql'

/**
 * A string literal written with a `\u0000` escape would reach PostgreSQL, which cannot hold NUL in text.
 * (Variables and raw NUL characters in the request are refused earlier, by src/plugins/input-guard.ts.)
 */
export const noNulStrings: ValidationRule = (context: ValidationContext) => ({
  StringValue(node) {
    if (node.value.includes('\u0000'))
      context.reportError(
        new GraphQLError('a string argument may not contain the NUL character (\\u0000)', {
          nodes: node,
          extensions: { code: 'BAD_USER_INPUT' },
        }),
      )
  },
})
