// neostandard (the maintained flat-config successor of `standard`) with its TypeScript preset. The few rule
// settings below follow conventions this codebase already uses consistently; each says why.
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'migrations/**', 'scratch/**', 'data/**']
  }),
  {
    rules: {
      // The code writes `function name(x)` and `async () =>`, `function () {}`: no space after a name,
      // a space after the `function`/`async` keyword.
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
      // Multi-line literals may end with a comma (keeps diffs one line); single-line ones may not.
      '@stylistic/comma-dangle': ['error', 'only-multiline'],
      // `void` discards a value on purpose: a fire-and-forget promise (`() => void server.close()`) or a
      // push-and-return in parsers (`return void out.problems.push(p)`); TypeScript checks both.
      'no-void': 'off',
      // SQL and log lines are written in backticks whether or not they interpolate, so they read alike.
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: true }],
      // `new Promise((r) => setTimeout(r, ms))` is the idiom for a sleep; short names are fine there.
      'promise/param-names': ['error', { resolvePattern: '^_?(resolve|r|res|done)$', rejectPattern: '^_?(reject|rej)$' }],
      // Fixtures and example rows group related properties on one line (tokens together, ids together);
      // one property per line would triple those tables without making them clearer.
      '@stylistic/object-property-newline': 'off',
      '@stylistic/object-curly-newline': 'off',
      // A guard whose single statement is too long for the line goes on the next, indented line without
      // braces (`if (bad)\n  throw new Error(…)`); @stylistic/indent keeps that body visibly attached.
      curly: 'off',
      // Generators are written `function* name()` / `async function* ()`, like `function` + `*` is one keyword.
      '@stylistic/generator-star-spacing': ['error', { before: false, after: true, anonymous: 'after', method: { before: true, after: false } }]
    }
  }
]
