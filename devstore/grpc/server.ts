/**
 * The devstore's gRPC server: Streams, ServerFeatures and Gossip over one Engine, on host:port, so that
 * @eventstore/db-client takes it for a single-node EventStoreDB (esdb:// and esdb+discover:// alike).
 *
 * Extension seam (devstore/persistent/ uses it): a DevStoreServiceFactory receives the ServiceContext (the
 * engine, and the OpenCalls registry in which it tracks its long-lived calls so that shutdown and
 * faults.dropAllSubscriptions() end them) and returns a DevStoreService: a grpc service definition, its
 * implementation, and the features ServerFeatures.GetSupportedMethods advertises for each of its methods.
 * Pass factories as `services` to startDevStoreServer; createDevStore passes the built-in ones. Every method
 * of every registered service is advertised; every handler is wrapped to answer UNAVAILABLE when the server
 * is not ready and to honour FaultState.replyDelayMs. A factory is called again on each restart.
 *
 * @example
 * const server = await startDevStoreServer({ engine, host: '127.0.0.1', port: 0, faults, services: [persistent] })
 * console.log(server.port)
 */
import { Server, ServerCredentials, status } from '@grpc/grpc-js'
import type {
  MethodDefinition,
  sendUnaryData,
  ServiceError,
  UntypedServiceImplementation,
} from '@grpc/grpc-js'
import { AccessControl, type AuthenticatedCall } from '../access/access-control.ts'
import type { Engine } from '../engine/engine.ts'
import { serverCredentials, type DevStoreTls } from '../tls/dev-store-tls.ts'
import type { FaultState } from '../faults.ts'
import { answerOnce } from './answer-once.ts'
import { createGossipService } from './gossip-service.ts'
import { OpenCalls } from './open-calls.ts'
import { assertPortFree, isAddressInUse, PortInUseError } from './port-in-use-error.ts'
import { createServerFeaturesService, type AdvertisedMethod } from './server-features-service.ts'
import { serviceError, unauthenticated, unavailable } from './status-errors.ts'
import { createStreamsService } from './streams-service.ts'
import type { DevStoreService, DevStoreServiceFactory, ServiceContext } from './service-context.ts'

export interface DevStoreServerOptions {
  readonly engine: Engine
  readonly host: string
  /** 0 picks a free port; read it back from DevStoreServer.port. */
  readonly port: number
  readonly faults: FaultState
  readonly services?: readonly DevStoreServiceFactory[]
  /** Serve over TLS with these files; omitted: insecure, as EventStoreDB's `--insecure`. */
  readonly tls?: DevStoreTls
  /** Who may do what; omitted: access control off (every call is the system account). */
  readonly access?: AccessControl
  /** How long a write may take to commit before it is answered as timed out; default 2,000 ms. */
  readonly commitTimeoutMs?: number
}

/** EventStoreDB's default EVENTSTORE_COMMIT_TIMEOUT_MS. */
export const DEFAULT_COMMIT_TIMEOUT_MS = 2_000

export interface DevStoreServer {
  readonly port: number
  /** Ends open calls as EventStoreDB does on shutdown, then stops listening. The engine stays open. */
  close(): Promise<void>
  /** Ends every open subscription with UNAVAILABLE. */
  dropAllSubscriptions(): void
}

const SHUTDOWN_GRACE_MS = 1_000

export async function startDevStoreServer(options: DevStoreServerOptions): Promise<DevStoreServer> {
  const calls = new OpenCalls()
  const context: ServiceContext = {
    engine: options.engine,
    calls,
    faults: options.faults,
    access: options.access ?? new AccessControl(() => options.engine, undefined),
    commitTimeoutMs: options.commitTimeoutMs ?? DEFAULT_COMMIT_TIMEOUT_MS,
  }
  const state = { ready: false }
  const server = new Server({
    // EventStoreDB accepts large requests and answers oversized appends itself, with its own error.
    'grpc.max_receive_message_length': 17 * 1024 * 1024,
    'grpc.max_send_message_length': 17 * 1024 * 1024,
  })
  const credentials =
    options.tls === undefined ? ServerCredentials.createInsecure() : serverCredentials(options.tls)
  const port = await bind(server, options.host, options.port, credentials)
  const endpoint = { host: advertisedHost(options.host), port }
  const services = [
    createStreamsService(context),
    ...(options.services ?? []).map((factory) => factory(context)),
  ]
  const advertised = services.flatMap(advertisedMethods)
  services.push(createServerFeaturesService(advertised), createGossipService(endpoint))
  for (const service of services) server.addService(service.definition, guard(service, state, context))
  state.ready = true

  let closing: Promise<void> | undefined
  return {
    port,
    dropAllSubscriptions: () => calls.endAll('drop', ['subscription']),
    close: () =>
      (closing ??= (async () => {
        state.ready = false
        try {
          calls.endAll('shutdown')
          // Every service closes and the server stops, whatever one of them throws; the first error is kept.
          const closed = await Promise.allSettled(services.map(async (service) => service.close?.()))
          const failed = closed.find((outcome) => outcome.status === 'rejected')
          if (failed !== undefined) throw failed.reason
        } finally {
          await shutdown(server)
        }
      })()),
  }
}

async function bind(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials,
): Promise<number> {
  await assertPortFree(host, port)
  return new Promise((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, credentials, (error, bound) => {
      if (error === null) return resolve(bound)
      reject(isAddressInUse(error) ? new PortInUseError(host, port, { cause: error }) : error)
    })
  })
}

function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown()
      resolve()
    }, SHUTDOWN_GRACE_MS)
    server.tryShutdown(() => {
      clearTimeout(force)
      resolve()
    })
  })
}

function advertisedHost(host: string): string {
  return host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host
}

function advertisedMethods(service: DevStoreService): AdvertisedMethod[] {
  return Object.values(service.definition).map((method: MethodDefinition<unknown, unknown>) => {
    const [, serviceName = '', methodName = ''] = method.path.split('/')
    return { serviceName, methodName, features: service.features?.[methodName] ?? [] }
  })
}

type Handler = (call: GuardedCall, callback?: Callback) => void
type Callback = sendUnaryData<unknown>
interface GuardedCall extends AuthenticatedCall {
  emit(event: 'error', error: unknown): void
  on(event: 'cancelled', listener: () => void): unknown
}

/**
 * Wraps each handler: UNAVAILABLE when not ready, the injected reply delay, and, for calls with one
 * reply, tracking so that shutdown answers them UNAVAILABLE while they are in flight.
 */
function guard(
  service: DevStoreService,
  state: { ready: boolean },
  context: ServiceContext,
): UntypedServiceImplementation {
  const guarded: UntypedServiceImplementation = {}
  for (const [name, method] of Object.entries(service.definition)) {
    const handler = service.implementation[name] as Handler | undefined
    if (handler === undefined) continue
    const answersOnce = !method.responseStream
    const wrapped: Handler = (call, callback) => {
      const answer =
        answersOnce && callback !== undefined
          ? answerOnce({ call, callback, calls: context.calls }).send
          : callback
      const fail = (error: ServiceError) => (answersOnce ? answer?.(error) : call.emit('error', error))
      if (!state.ready) return fail(unavailable())
      if (context.access.authenticate(call) === 'unauthenticated') return fail(unauthenticated())
      const run = () => {
        if (!state.ready) return fail(unavailable())
        try {
          handler(call, answer)
        } catch (error) {
          fail(serviceError(status.INTERNAL, error instanceof Error ? error.message : String(error)))
        }
      }
      const delay = context.faults.replyDelayMs
      if (delay > 0) {
        setTimeout(run, delay)
        context.faults.replyHeld()
      } else run()
    }
    guarded[name] = wrapped as UntypedServiceImplementation[string]
  }
  return guarded
}
