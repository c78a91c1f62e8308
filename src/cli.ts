#!/usr/bin/env node
// The `tokenledger` command (package.json "bin" → dist/cli.js). Exit code via process.exitCode, so
// pending output is flushed before the process ends.
import { main } from './cli/main.js'

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr })
