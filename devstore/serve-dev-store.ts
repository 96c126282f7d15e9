/**
 * Runs a devstore as a process would: parses `--data <dir> --port <port> --host <host>`, starts it, prints
 * its connection string on the first line of stdout, and closes it when `signal` aborts. Shared by
 * `annals devstore` and `node devstore/main.ts`.
 */
import { resolve } from 'node:path'
import { createDevStore } from './create-dev-store.ts'
import { EngineError } from './engine/engine-errors.ts'
import { PortInUseError } from './grpc/port-in-use-error.ts'

export interface ServeOptions {
  readonly dataDir: string
  readonly port: number
  readonly host: string
}

export interface ServeIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly cwd: string
  readonly signal: AbortSignal
}

export const DEVSTORE_USAGE = `annals devstore [--data <dir>] [--port <port>] [--host <host>]

Runs the devstore, an embedded server that @eventstore/db-client takes for EventStoreDB, and prints its
connection string. Stops cleanly on SIGINT or SIGTERM.

  --data <dir>    where the log lives (default: .annals/devstore under the current directory)
  --port <port>   the port to listen on (default: 2113; 0 picks a free one)
  --host <host>   the address to listen on (default: 127.0.0.1)`

/** A command line the devstore cannot run with; the message says which flag and why. */
export class DevStoreUsageError extends Error {
  override readonly name = 'DevStoreUsageError'
}

export function parseServeArgs(args: readonly string[], cwd: string): ServeOptions {
  let dataDir = resolve(cwd, '.annals/devstore')
  let port = 2113
  let host = '127.0.0.1'
  for (let index = 0; index < args.length; index++) {
    const flag = args[index]!
    const [name, inline] =
      flag.startsWith('--') && flag.includes('=') ? flag.split('=', 2) : [flag, undefined]
    const value = inline ?? args[++index]
    if (value === undefined || value === '') throw new DevStoreUsageError(`${name} needs a value`)
    switch (name) {
      case '--data':
        dataDir = resolve(cwd, value)
        break
      case '--port':
        port = Number(value)
        if (!Number.isInteger(port) || port < 0 || port > 65_535) {
          throw new DevStoreUsageError(`--port expects a port number from 0 to 65535, got '${value}'`)
        }
        break
      case '--host':
        host = value
        break
      default:
        throw new DevStoreUsageError(`unknown option '${name}'`)
    }
  }
  return { dataDir, port, host }
}

/** What to do when the devstore cannot start, by the error's stable code. */
const REMEDIES: Partial<Record<EngineError['code'] | PortInUseError['code'], string>> = {
  DATA_CORRUPT:
    'Nothing in the data directory was changed. Restore it from a backup, or move it aside to start with an empty one.',
  DATA_DIR_LOCKED: 'Stop that process, or pass another --data directory.',
  PORT_IN_USE:
    'Is a devstore or EventStoreDB already running there? Stop it, or pass another --port (0 picks a free one).',
}

/**
 * The error that stopped the devstore from starting, as a person should read it: its message (which names
 * the file and offset, the locking process, or the address taken) and what to do; undefined for any other.
 */
export function explainStartFailure(error: unknown): { code: string; message: string } | undefined {
  if (!(error instanceof EngineError) && !(error instanceof PortInUseError)) return undefined
  const remedy = REMEDIES[error.code]
  return { code: error.code, message: remedy === undefined ? error.message : `${error.message}\n${remedy}` }
}

/** Serves until `io.signal` aborts; resolves once the devstore is closed. */
export async function serveDevStore(options: ServeOptions, io: ServeIo): Promise<void> {
  const store = await createDevStore({
    dataDir: options.dataDir,
    port: options.port,
    host: options.host,
    log: (message) => io.stderr.write(`${message}\n`),
  })
  io.stdout.write(`${store.connectionString}\n`)
  io.stderr.write(`devstore: serving ${options.dataDir} on ${store.host}:${store.port}\n`)
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }))
  }
  await store.close()
  io.stderr.write('devstore: stopped\n')
}
