/**
 * Runs a devstore as a process would: parses `--data <dir> --port <port> --host <host>`, starts it, prints
 * its connection string on the first line of stdout, and closes it when `signal` aborts. Shared by
 * `annals devstore` and `node devstore/main.ts`.
 */
import { resolve } from 'node:path'
import { createDevStore } from './create-dev-store.ts'
import { EngineError } from './engine/engine-errors.ts'
import type { DevStoreTls } from './tls/dev-store-tls.ts'
import { PortInUseError } from './grpc/port-in-use-error.ts'

export interface ServeOptions {
  readonly dataDir: string
  readonly port: number
  readonly host: string
  /** Certificate files, or 'dev' for throwaway ones under the data folder; undefined: insecure. */
  readonly tls?: DevStoreTls | 'dev'
  readonly accessControl?: boolean
  readonly commitTimeoutMs?: number
  readonly systemProjections?: boolean
}

export interface ServeIo {
  readonly stdout: { write(text: string): unknown }
  readonly stderr: { write(text: string): unknown }
  readonly cwd: string
  readonly signal: AbortSignal
}

export const DEVSTORE_USAGE = `annals devstore [--data <dir>] [--port <port>] [--host <host>] [--tls [--tls-cert <file> --tls-key <file> [--tls-ca <file>]]] [--access-control] [--commit-timeout <ms>] [--no-system-projections]

Runs the devstore, an embedded server that @eventstore/db-client takes for EventStoreDB, and prints its
connection string. Stops cleanly on SIGINT or SIGTERM.

  --data <dir>               where the log lives (default: .annals/devstore under the current directory)
  --port <port>              the port to listen on (default: 2113; 0 picks a free one)
  --host <host>              the address to listen on (default: 127.0.0.1)
  --tls                      serve over TLS; without certificate files, with a throwaway development CA
                             and server certificate kept in <data>/certs (the connection string names the
                             CA as tlsCAFile)
  --tls-cert, --tls-key      the server's certificate and private key (PEM), with --tls
  --tls-ca                   the CA that signed it, which clients trust and which signs client certificates
  --access-control           users admin and ops (password changeit), basic auth or client certificates,
                             $acl stream metadata enforced; needs --tls (default: off, as --insecure)
  --commit-timeout <ms>      how long a write may take to commit before it times out (default: 2000)
  --no-system-projections    do not run $by_category, $by_event_type and the other system projections`

/** A command line the devstore cannot run with; the message says which flag and why. */
export class DevStoreUsageError extends Error {
  override readonly name = 'DevStoreUsageError'
}

export function parseServeArgs(args: readonly string[], cwd: string): ServeOptions {
  let dataDir = resolve(cwd, '.annals/devstore')
  let port = 2113
  let host = '127.0.0.1'
  let tls = false
  const files: { certFile?: string; keyFile?: string; caFile?: string } = {}
  let accessControl = false
  let commitTimeoutMs: number | undefined
  let systemProjections = true
  for (let index = 0; index < args.length; index++) {
    const flag = args[index]!
    const [name = '', inline] =
      flag.startsWith('--') && flag.includes('=') ? flag.split('=', 2) : [flag, undefined]
    if (SWITCHES.has(name)) {
      if (inline !== undefined) throw new DevStoreUsageError(`${name} takes no value`)
      if (name === '--tls') tls = true
      else if (name === '--access-control') accessControl = true
      else systemProjections = false
      continue
    }
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
      case '--tls-cert':
        files.certFile = resolve(cwd, value)
        break
      case '--tls-key':
        files.keyFile = resolve(cwd, value)
        break
      case '--tls-ca':
        files.caFile = resolve(cwd, value)
        break
      case '--commit-timeout':
        commitTimeoutMs = Number(value)
        if (!Number.isInteger(commitTimeoutMs) || commitTimeoutMs < 1) {
          throw new DevStoreUsageError(`--commit-timeout expects milliseconds, at least 1, got '${value}'`)
        }
        break
      default:
        throw new DevStoreUsageError(`unknown option '${name}'`)
    }
  }
  const given = Object.keys(files).length > 0
  if (given && !tls) throw new DevStoreUsageError('--tls-cert, --tls-key and --tls-ca need --tls')
  if (given && (files.certFile === undefined || files.keyFile === undefined)) {
    throw new DevStoreUsageError(
      '--tls needs both --tls-cert and --tls-key, or neither (development certificates)',
    )
  }
  if (accessControl && !tls) {
    throw new DevStoreUsageError('--access-control needs --tls: the client sends credentials only over TLS')
  }
  return {
    dataDir,
    port,
    host,
    ...(tls ? { tls: given ? (files as DevStoreTls) : 'dev' } : {}),
    ...(accessControl ? { accessControl } : {}),
    ...(commitTimeoutMs === undefined ? {} : { commitTimeoutMs }),
    ...(systemProjections ? {} : { systemProjections }),
  }
}

const SWITCHES = new Set(['--tls', '--access-control', '--no-system-projections'])

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
    ...options,
    log: (message) => io.stderr.write(`${message}\n`),
  })
  io.stdout.write(`${store.connectionString}\n`)
  const mode = [
    options.tls === undefined ? 'insecure' : 'TLS',
    ...(options.accessControl === true ? ['access control on (admin/changeit, ops/changeit)'] : []),
  ].join(', ')
  io.stderr.write(`devstore: serving ${options.dataDir} on ${store.host}:${store.port} (${mode})\n`)
  if (!io.signal.aborted) {
    await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }))
  }
  await store.close()
  io.stderr.write('devstore: stopped\n')
}
