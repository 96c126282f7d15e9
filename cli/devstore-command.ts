import {
  DEVSTORE_USAGE,
  DevStoreUsageError,
  parseServeArgs,
  serveDevStore,
} from '../devstore/serve-dev-store.ts'
import type { CliCommand } from './cli-command.ts'

/** `annals devstore`: runs the devstore in the foreground until SIGINT or SIGTERM. */
export const devstoreCommand: CliCommand = {
  name: 'devstore',
  summary: 'Run the devstore, an embedded EventStoreDB-compatible server for development and tests',
  usage: DEVSTORE_USAGE,
  async run(args, context) {
    let options
    try {
      options = parseServeArgs(args, context.cwd)
    } catch (error) {
      if (!(error instanceof DevStoreUsageError)) throw error
      context.stderr.write(`annals devstore: ${error.message}\n\n${DEVSTORE_USAGE}\n`)
      return 2
    }
    await serveDevStore(options, context)
    return 0
  },
}
