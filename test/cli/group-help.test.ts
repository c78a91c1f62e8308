import t from 'tap'
import { KEYS_CREATE_HELP, TENANTS_CREATE_HELP } from '../../src/cli/commands/tenants.js'
import { runCli } from './run-cli.js'

// `tenants` and `keys` are groups whose verb (`create`) is the next word. The word after the group was
// taken as the verb whatever it was, so `tokenledger tenants --help` was the unknown command
// "tenants --help" (exit 2) and the group's own help branch was never reached.

t.test('tenants --help and keys --help print their subcommand’s usage and exit 0', async (t) => {
  for (const [group, help] of [['tenants', TENANTS_CREATE_HELP], ['keys', KEYS_CREATE_HELP]] as const) {
    for (const flag of ['--help', '-h']) {
      const run = await runCli([group, flag])
      t.equal(run.code, 0, `${group} ${flag}: ${run.stderr}`)
      t.equal(run.stdout, `${help}\n`, `${group} ${flag}: the usage of ${group} create`)
      t.equal(run.stderr, '')
      t.same(await runCli([group, 'create', flag]), run, `${group} ${flag} says what ${group} create ${flag} says`)
    }
  }
})

t.test('a group without its verb is still a usage error naming it, an option in its place too', async (t) => {
  for (const argv of [['tenants'], ['tenants', '--name', 'Acme'], ['keys', '--scopes', 'read']]) {
    const run = await runCli(argv)
    t.equal(run.code, 2, argv.join(' '))
    t.equal(run.stderr, `tokenledger: ${argv[0]} takes a subcommand: ${argv[0]} create (see: tokenledger ${argv[0]} create --help)\n`)
    t.equal(run.stdout, '')
  }
})
