import t from 'tap'
import { build, tenantWithKey } from '../helpers.js'
import { servedPage, skipWithoutChromium } from '../factories/chromium.js'

t.test('GraphiQL in a real browser: enter a token, run { __typename }, nothing loaded from elsewhere', {
  skip: skipWithoutChromium,
}, async (t) => {
  const app = await build(t, 'pglite')
  const { key } = await tenantWithKey(app, ['read'])
  // Offline: any request that leaves the server is recorded and refused.
  const { origin, page, problems, foreign } = await servedPage(t, app)
  const graphqlCalls: { authorization?: string; body: string | null }[] = []
  page.on('response', async (res) => {
    if (res.url() === `${origin}/graphql` && res.status() !== 200 && res.status() !== 401)
      problems.push(`${res.status()} from /graphql: ${await res.text()}`)
  })
  page.on('request', (req) => {
    if (req.url() === `${origin}/graphql`) graphqlCalls.push({ authorization: req.headers().authorization, body: req.postData() })
  })

  await page.goto(`${origin}/graphiql`)
  await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror')
  // Before a token is entered, GraphiQL's introspection is answered 401 (shown, not crashing the page).
  t.equal(await page.inputValue('#token'), '')

  await page.fill('#token', key)
  await page.click('#token-save')
  await page.waitForSelector('#auth-state:text-is("token set")')
  // In-page code is passed as text: the test is compiled without DOM types. CodeMirror 5 hangs its
  // editor object on its wrapper element.
  await page.evaluate("document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ __typename }')")
  await page.click('.graphiql-execute-button')
  // A selector wait, not waitForFunction: the latter evaluates a string in the page, which the page's
  // own Content-Security-Policy (no 'unsafe-eval') rightly refuses.
  await page.waitForSelector('.result-window:has-text("__typename")')
  const result = await page.textContent('.result-window')
  t.match(result, /"__typename":\s*"Query"/, 'the query ran with the token')
  t.notMatch(result, /errors/)

  const run = graphqlCalls.find((c) => c.body?.includes('__typename') && !c.body.includes('IntrospectionQuery'))
  t.equal(run?.authorization, `Bearer ${key}`, 'the token went as the Authorization header')
  t.ok(graphqlCalls.some((c) => c.body?.includes('IntrospectionQuery') && c.authorization === `Bearer ${key}`),
    'GraphiQL introspected again with the token')

  // The token survives a reload (localStorage) and is used straight away.
  await page.reload()
  await page.waitForSelector('.graphiql-container')
  t.equal(await page.inputValue('#token'), key)

  t.ok(graphqlCalls.length >= 3, 'introspection without and with the token, then the query')
  t.same(foreign, [], 'no request left the server')
  t.same(problems.filter((p) => !/status of 401/.test(p)), [], 'no script errors or CSP violations')
})
