import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql'
import { INSTANT_FORMAT, parseInstant } from '../time/instant.js'

const badInput = (message: string) => new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })

/** The one instant parser: RFC 3339 or unix seconds (an Int or a digit string), as at every entry point. */
function parseDateTime(value: unknown): Date {
  const r = parseInstant(value)
  if (!r.ok) throw badInput(`DateTime ${r.message}`)
  return new Date(r.ms)
}

export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (v) => (v instanceof Date ? v : new Date(String(v))).toISOString(),
  parseValue: parseDateTime,
  parseLiteral: (ast) => {
    if (ast.kind === Kind.STRING) return parseDateTime(ast.value)
    // An Int literal is unix seconds; graphql-js keeps its digits as text, so over-long ones are refused as text.
    if (ast.kind === Kind.INT) return parseDateTime(ast.value)
    throw badInput(`DateTime must be ${INSTANT_FORMAT}`)
  },
})

export const Long = new GraphQLScalarType({
  name: 'Long',
  serialize: (v) => {
    const n = typeof v === 'string' ? Number(v) : (v as number)
    if (!Number.isSafeInteger(n)) throw new GraphQLError(`Long out of exact range: ${String(v)}`)
    return n
  },
  parseValue: (v) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw badInput('Long must be an integer up to 2^53')
    return v
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.INT || !Number.isSafeInteger(Number(ast.value))) throw badInput('Long must be an integer up to 2^53')
    return Number(ast.value)
  },
})

const DECIMAL = /^-?\d+(\.\d+)?$/
export const Decimal = new GraphQLScalarType({
  name: 'Decimal',
  serialize: (v) => String(v),
  parseValue: (v) => {
    if (typeof v !== 'string' || !DECIMAL.test(v)) throw badInput('Decimal must be a string in plain decimal notation')
    return v
  },
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING || !DECIMAL.test(ast.value)) throw badInput('Decimal must be a string in plain decimal notation')
    return ast.value
  },
})

function literalToJson(ast: ValueNode): unknown {
  switch (ast.kind) {
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToJson(f.value)]))
    case Kind.LIST:
      return ast.values.map(literalToJson)
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value)
    case Kind.STRING:
    case Kind.ENUM:
      return ast.value
    case Kind.BOOLEAN:
      return ast.value
    default:
      return null
  }
}

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: literalToJson,
})
