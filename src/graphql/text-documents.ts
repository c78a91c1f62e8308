import { GraphQLError, Location, parse, type DocumentNode } from 'graphql'
import type { MercuriusContext, preParsingHookHandler, preValidationHookHandler } from 'mercurius'
import { PARSE_OPTIONS } from './parse-limits.js'

/**
 * Only GraphQL text is a query. When graphql-js cannot parse a query, mercurius tries it as a
 * JSON-encoded document AST: `{"query": "{}"}` (also `{ }`, `5`, `[]`) became the "document" `{}` and
 * crashed graphql-js's validation — a 500 where every other syntax error is a 400. A document the parser
 * built carries a Location; one that did not is refused with the parser's own syntax error.
 */
export function textDocuments() {
  // preParsing sees the source (only string sources are parsed); preValidation sees the document.
  const sources = new WeakMap<MercuriusContext, string>()
  const preParsing: preParsingHookHandler = async (_schema, source, context) => {
    sources.set(context, source)
  }
  const preValidation: preValidationHookHandler = async (_schema, document: DocumentNode, context) => {
    if (document.loc instanceof Location) return
    throw parseFailure(sources.get(context) ?? '')
  }
  return { preParsing, preValidation }
}

/** The parser's error for a text it refused, wrapped as mercurius wraps request errors (src/graphql/errors.ts). */
function parseFailure(source: string): Error {
  let syntaxError: GraphQLError
  try {
    parse(source, PARSE_OPTIONS)
    // Not reached for a text mercurius failed to parse; kept so no document passes unparsed.
    syntaxError = new GraphQLError('Syntax Error: the query is not a GraphQL document.')
  } catch (err) {
    if (!(err instanceof GraphQLError)) throw err
    syntaxError = err
  }
  return Object.assign(new Error(syntaxError.message), { errors: [syntaxError] })
}
