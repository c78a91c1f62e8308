import t from 'tap'
import { runCli } from './run-cli.js'

// `tenants` and `keys` are groups whose verb is the next word. A verb the group does not have
// (`tokenledger tenants bogus`) fell through to the unknown-command branch, which named the group —
// `unknown command "tenants"`, a command that exists — and not the word that was wrong.

t.test('an unknown verb of a group names the verb, the group and its verbs; exit 2', async (t) => {
  for (const [group, verb] of [['tenants', 'bogus'], ['keys', 'bogus'], ['tenants', 'list'], ['keys', 'Create']] as const) {
    for (const argv of [[group, verb], [group, verb, 'acme', '--name', 'Acme']]) {
      const run = await runCli(argv)
      t.equal(run.code, 2, argv.join(' '))
      t.equal(
        run.stderr,
        `tokenledger: unknown subcommand "${verb}" of ${group}: the subcommands are create (see: tokenledger ${group} create --help)\n`,
        argv.join(' '),
      )
      t.equal(run.stdout, '')
    }
  }
})

t.test('an unknown command is still named as one', async (t) => {
  const run = await runCli(['bogus', 'create'])
  t.equal(run.code, 2)
  t.equal(run.stderr, 'tokenledger: unknown command "bogus" (see: tokenledger --help)\n')
})
