// Starts a devstore in this process: `node --conditions=development --import tsx devstore/main.ts --port 0`.
// Prints the connection string on the first line of stdout; SIGINT or SIGTERM stop it cleanly.
import {
  DEVSTORE_USAGE,
  DevStoreUsageError,
  explainStartFailure,
  parseServeArgs,
  serveDevStore,
} from './serve-dev-store.ts'

const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort())

try {
  const options = parseServeArgs(process.argv.slice(2), process.cwd())
  await serveDevStore(options, {
    stdout: process.stdout,
    stderr: process.stderr,
    cwd: process.cwd(),
    signal: controller.signal,
  })
} catch (error) {
  const explained = explainStartFailure(error)
  const message = error instanceof Error ? error.message : String(error)
  // An engine error leads with its stable code (DATA_CORRUPT, DATA_DIR_LOCKED), as `annals devstore` does.
  process.stderr.write(`devstore: ${explained ? `${explained.code}: ${explained.message}` : message}\n`)
  if (error instanceof DevStoreUsageError) process.stderr.write(`\n${DEVSTORE_USAGE}\n`)
  process.exitCode = error instanceof DevStoreUsageError ? 2 : 1
}
