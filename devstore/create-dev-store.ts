/**
 * createDevStore: the embedded server that @eventstore/db-client takes for a single-node EventStoreDB, on
 * loopback, file-backed when given a data directory (in memory otherwise).
 *
 * @example
 * const store = await createDevStore({ dataDir: '.annals/devstore' })
 * const client = EventStoreDBClient.connectionString(store.connectionString)
 * // ...
 * await client.dispose()
 * await store.close()
 */
import { AccessControl } from './access/access-control.ts'
import { DEFAULT_USERS } from './access/principal.ts'
import { openEngine } from './engine/open-engine.ts'
import { projectionsService } from './projections/projections-service.ts'
import type { DevStoreTls } from './tls/dev-store-tls.ts'
import { connectionStringOf, resolveTls } from './tls/resolve-tls.ts'
import type { Engine } from './engine/engine.ts'
import { FaultState, type DevStoreFaults } from './faults.ts'
import { persistentSubscriptionsService } from './persistent/persistent-subscriptions-service.ts'
import { startDevStoreServer, type DevStoreServer } from './grpc/server.ts'
import type { DevStoreServiceFactory } from './grpc/service-context.ts'

export interface DevStoreOptions {
  /** Where the log lives; omitted: in memory, gone on close. */
  readonly dataDir?: string
  /** Default 0: a free port, read back from DevStore.port. */
  readonly port?: number
  /** Default 127.0.0.1. */
  readonly host?: string
  /** Extra gRPC services on the same server (see devstore/grpc/server.ts); persistent subscriptions are built in. */
  readonly services?: readonly DevStoreServiceFactory[]
  /** Recovery and lock messages from the engine. */
  readonly log?: (message: string) => void
  /**
   * For tests only: the clock (milliseconds since the Unix epoch) that stamps each event's `created` and
   * judges `$maxAge`, so a test can age events without sleeping. Default Date.now; it survives restarts.
   */
  readonly now?: () => number
  /**
   * Serve over TLS: with these certificate files, or 'dev' for a throwaway CA and server certificate under
   * `<dataDir>/certs` (the connection string then names the CA as tlsCAFile). Omitted: insecure.
   */
  readonly tls?: DevStoreTls | 'dev'
  /**
   * Access control as EventStoreDB's secure mode has it: the users `admin` and `ops` (password `changeit`),
   * credentials by basic auth or client certificate, `$acl` stream metadata enforced. Needs `tls` (the client
   * sends credentials only over TLS). Default false: every call may do everything, as with `--insecure`.
   */
  readonly accessControl?: boolean
  /** How long a write may take to commit before it is answered as timed out; default 2,000 ms, as EventStoreDB. */
  readonly commitTimeoutMs?: number
  /**
   * Run `$by_category`, `$by_event_type`, `$by_correlation_id`, `$stream_by_category` and `$streams` (those
   * not disabled through the projections API); default true, as EventStoreDB's dev mode. False keeps all five
   * stopped at start, whatever the data directory says (the API can still enable one until the next start).
   */
  readonly systemProjections?: boolean
}

export interface DevStore {
  /** `esdb://HOST:PORT?tls=false`, or `?tls=true&tlsCAFile=...` over TLS, for EventStoreDBClient.connectionString. */
  readonly connectionString: string
  readonly host: string
  readonly port: number
  readonly faults: DevStoreFaults
  /** Ends open calls as EventStoreDB does on shutdown (reads, subscriptions and BatchAppend CANCELLED, in-flight unary calls UNAVAILABLE), stops the server, closes the log. */
  close(): Promise<void>
}

export async function createDevStore(options: DevStoreOptions = {}): Promise<DevStore> {
  const host = options.host ?? '127.0.0.1'
  if (options.accessControl === true && options.tls === undefined) {
    throw new TypeError('accessControl needs tls: @eventstore/db-client sends credentials only over TLS')
  }
  const faultState = new FaultState()
  const openOwnEngine = () =>
    openEngine({
      ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
      ...(options.log === undefined ? {} : { log: options.log }),
      ...(options.now === undefined ? {} : { now: options.now }),
    })
  const { tls, dispose } = resolveTls(options.tls, options.dataDir)
  let engine: Engine
  try {
    engine = await openOwnEngine()
  } catch (error) {
    dispose()
    throw error
  }
  const access = new AccessControl(() => engine, options.accessControl === true ? DEFAULT_USERS : undefined)
  const builtIn = [persistentSubscriptionsService, projectionsService(options.systemProjections ?? true)]
  // A Set, so a caller that also passes a built-in factory does not register it twice.
  const services = [...new Set([...builtIn, ...(options.services ?? [])])]
  const start = (port: number) =>
    startDevStoreServer({
      engine,
      host,
      port,
      faults: faultState,
      services,
      access,
      ...(tls === undefined ? {} : { tls }),
      ...(options.commitTimeoutMs === undefined ? {} : { commitTimeoutMs: options.commitTimeoutMs }),
    })
  let server: DevStoreServer
  try {
    server = await start(options.port ?? 0)
  } catch (error) {
    await engine.close()
    dispose()
    throw error
  }
  const port = server.port
  // Restarts and close run one after another, never interleaved.
  let lifecycle: Promise<void> = Promise.resolve()
  let closed = false
  const serially = (step: () => Promise<void>) => (lifecycle = lifecycle.then(step))

  const faults: DevStoreFaults = {
    dropAllSubscriptions: () => server.dropAllSubscriptions(),
    failNextAppends: (count) => faultState.failNextAppends(count),
    delayReplies: (ms) => faultState.delayReplies(ms),
    nextHeldReply: () => faultState.nextHeldReply(),
    delayCommits: (ms) => faultState.delayCommits(ms),
    restart: () =>
      serially(async () => {
        if (closed) throw new Error('The devstore is closed')
        await server.close()
        // In memory there is nothing to reopen: the same engine serves the restarted server.
        if (options.dataDir !== undefined) {
          await engine.close()
          engine = await openOwnEngine()
        }
        server = await start(port)
      }),
  }

  return {
    connectionString: connectionStringOf(host, port, tls),
    host,
    port,
    faults,
    close: () =>
      serially(async () => {
        if (closed) return
        closed = true
        try {
          await server.close()
        } finally {
          await engine.close()
          dispose()
        }
      }),
  }
}
