import { readdirSync, readFileSync } from 'node:fs'
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isIntrospectionType,
  isObjectType,
  isSpecifiedScalarType,
  printSchema,
  type IntrospectionQuery,
} from 'graphql'
import t from 'tap'
import { loadSchema } from '../../src/graphql/index.js'
import { bearer, build, tenantWithKey } from '../helpers.js'

// Read here, not through loadSchema(), so a loader bug cannot hide a difference. Every schema/*.graphql
// file is part of the SDL (budgets.graphql extends Query).
const SCHEMA_DIR = new URL('../../schema/', import.meta.url)
const COMMITTED = readdirSync(SCHEMA_DIR)
  .filter((f) => f.endsWith('.graphql'))
  .map((f) => readFileSync(new URL(f, SCHEMA_DIR), 'utf8'))
  .join('\n')

/** Every type, field, argument, input field and enum value of the schema, each with its description. */
function documentables(sdl: string): { where: string; description: string | null | undefined }[] {
  const out: { where: string; description: string | null | undefined }[] = []
  for (const type of Object.values(buildSchema(sdl).getTypeMap())) {
    if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue
    out.push({ where: `type ${type.name}`, description: type.description })
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        out.push({ where: `${type.name}.${field.name}`, description: field.description })
        for (const arg of field.args) out.push({ where: `${type.name}.${field.name}(${arg.name})`, description: arg.description })
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()))
        out.push({ where: `input ${type.name}.${field.name}`, description: field.description })
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) out.push({ where: `${type.name}.${value.name}`, description: value.description })
    }
  }
  return out
}

t.test('every type, field, argument, input field and enum value of the committed SDL is described', async (t) => {
  const items = documentables(COMMITTED)
  t.ok(items.length > 150, `the walk reached the whole schema (${items.length} items)`)
  const missing = items.filter((i) => !i.description?.trim()).map((i) => i.where)
  t.same(missing, [], 'nothing undocumented')
})

t.test('the server loads exactly the committed SDL', async (t) => {
  t.equal(printSchema(buildSchema(loadSchema())), printSchema(buildSchema(COMMITTED)))
})

t.test('the schema the server executes, seen through introspection, equals the committed SDL', async (t) => {
  const app = await build(t, 'pglite')
  const { key } = await tenantWithKey(app, ['read'])
  const res = await app.inject({
    method: 'POST',
    url: '/graphql',
    headers: bearer(key),
    payload: {
      query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }),
    },
  })
  t.equal(res.statusCode, 200, res.body.slice(0, 300))
  const body = res.json() as { data: IntrospectionQuery; errors?: unknown }
  t.equal(body.errors, undefined)
  t.equal(printSchema(buildClientSchema(body.data)), printSchema(buildSchema(COMMITTED)))
})
