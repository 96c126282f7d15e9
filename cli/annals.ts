#!/usr/bin/env node
// The `annals` command line: package.json "bin" points at the emitted dist/cli/annals.js.
import { runCli } from './run-cli.ts'

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // The first signal asks the subcommand to stop gracefully; a second one stops the process at once.
  process.on(signal, () => {
    if (controller.signal.aborted) process.exit(130)
    controller.abort()
  })
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  signal: controller.signal,
})
