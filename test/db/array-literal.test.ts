import t from 'tap'
import { sql } from 'drizzle-orm'
import { arrayLiteral, arrayParam } from '../../src/db/array-literal.js'
import { eachEngine, freshDb } from '../helpers.js'

// Every text a dimension may hold after validation, including the ones an array literal treats
// specially when unquoted: delimiters, braces, quotes, backslashes, spaces, the word NULL, empty.
const TEXTS = ['plain', 'a,b', '{x}', 'say "hi"', 'back\\slash', '\\"', ' padded ', 'NULL', 'null', '', 'ünï😀', 'tab\there', 'new\nline']

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)

  t.test('text survives the literal verbatim, null stays SQL NULL', async (t) => {
    const values = [...TEXTS, null]
    // Read element by element: postgres.js parses a NULL element of a text[] result as the text "NULL".
    const rows = await db.query<{ x: string | null }>(sql`select x from unnest(${arrayParam(values, 'text[]')}) with ordinality u(x, n) order by n`)
    t.same(
      rows.map((r) => r.x),
      values,
      'the text "NULL" stays text; only the real null is NULL',
    )
  })

  t.test('each array type the writers use is cast from the literal', async (t) => {
    const [row] = await db.query<{ n: string; ts: string; b: string; j: string; d: string; i: string }>(sql`select
      ${arrayParam(['9007199254740991', '0', null], 'int8[]')}::text as n,
      ${arrayParam(['2026-02-01T00:00:00.000Z', null], 'timestamptz[]')}::text as ts,
      ${arrayParam(['true', 'false', null], 'bool[]')}::text as b,
      ${arrayParam([JSON.stringify({ k: 'a "q" \\ ,{}' }), null], 'jsonb[]')}::text as j,
      ${arrayParam(['12345678901234567890.123456789', null], 'numeric[]')}::text as d,
      ${arrayParam(['7'], 'int4[]')}::text as i`)
    t.equal(row!.n, '{9007199254740991,0,NULL}')
    t.match(row!.ts, /^\{"2026-02-01 00:00:00\+00",NULL\}$/)
    t.equal(row!.b, '{t,f,NULL}')
    const [j] = await db.query<{ k: string }>(sql`select (${arrayParam([JSON.stringify({ k: 'a "q" \\ ,{}' })], 'jsonb[]')})[1]->>'k' as k`)
    t.equal(j!.k, 'a "q" \\ ,{}')
    t.match(row!.j, /^\{.*,NULL\}$/)
    t.equal(row!.d, '{12345678901234567890.123456789,NULL}', 'exact decimal')
    t.equal(row!.i, '{7}')
  })

  t.test('an empty column is an empty array', async (t) => {
    const [row] = await db.query<{ n: number }>(sql`select cardinality(${arrayParam([], 'text[]')})::int8 as n`)
    t.equal(row!.n, 0)
  })
})

t.test('the literal quotes every element and escapes only backslash and double quote', async (t) => {
  t.equal(arrayLiteral([]), '{}')
  t.equal(arrayLiteral(['a', null, 'NULL']), '{"a",NULL,"NULL"}')
  t.equal(arrayLiteral(['x"y\\z', 'a,b}']), '{"x\\"y\\\\z","a,b}"}')
})
