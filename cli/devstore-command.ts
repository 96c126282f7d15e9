import {
  DEVSTORE_USAGE,
  DevStoreUsageError,
  explainStartFailure,
  parseServeArgs,
  serveDevStore,
} from '../devstore/serve-dev-store.ts'
import { AnnalsError, isErrorCode } from '../framework/errors.ts'
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
    try {
      await serveDevStore(options, context)
    } catch (error) {
      // A data directory the engine refuses (DATA_CORRUPT, DATA_DIR_LOCKED): printed with its code, exit 1.
      const explained = explainStartFailure(error)
      if (explained === undefined) throw error
      const code = isErrorCode(explained.code) ? explained.code : 'INTERNAL'
      throw new AnnalsError(code, explained.message, { cause: error })
    }
    return 0
  },
}
