import { traceLogFields } from '../tracing/trace-log-fields.ts'
import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { createCommandBus, type CommandBusOptions } from '../command/create-command-bus.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { Authenticate, JwtOptions } from '../graphql/authenticate-request.ts'
import { createAuthentication } from '../graphql/authenticate-request.ts'
import type { AuthorizationRules } from '../graphql/authorize-operation.ts'
import { defaultLimits, type GatewayLimits } from '../graphql/gateway-limits.ts'
import { registerGateway, type Gateway } from '../graphql/register-gateway.ts'
import type { ReadSide, ReadSideOption } from '../read-model/read-side.ts'
import type { Cluster, ClusterOption } from '../sharding/cluster.ts'
import { createCluster } from '../sharding/create-cluster.ts'
import { registerHealthRoutes } from './health-routes.ts'
import { createQuerystringCache } from './querystring-cache.ts'
import { resolveStore, type StoreOption } from './resolve-store.ts'
import { defaultSelfUrl, parseServerConfig, type ServerConfig } from './server-config.ts'
import { createServerMetrics } from './server-metrics.ts'
import { trackShutdown } from './track-shutdown.ts'

export interface ServerOptions {
  readonly aggregates: readonly AnyAggregate[]
  /** The projections and reactors, as createReadSide (annals/projections) gives them: each projection becomes a read model with queries and subscriptions. */
  readonly readSide?: ReadSideOption | undefined
  /** An EventStore, or a connection string; default EVENTSTORE_URL, else an in-process devstore. */
  readonly store?: StoreOption
  /** Where the in-process devstore keeps its log (default ANNALS_DATA_DIR, else memory). */
  readonly dataDir?: string
  /**
   * How this replica runs commands: aggregates held in memory (the default) or `stateless`, and the bounds of
   * what it holds (ANNALS_MAX_HOSTED_AGGREGATES and ANNALS_PASSIVATE_AFTER_MS set them too).
   */
  readonly commands?: Omit<CommandBusOptions, 'store' | 'aggregates'>
  /** Shards aggregates across replicas; default createCluster() when ANNALS_PEERS or ANNALS_PEERS_DNS is set. */
  readonly cluster?: ClusterOption
  /** This replica's internal address for peers; default ANNALS_SELF_URL, else http://HOST:PORT. */
  readonly selfUrl?: string
  /** Finds the principal of a request; overrides `auth`. */
  readonly authenticate?: Authenticate
  readonly auth?: { readonly jwt?: JwtOptions }
  readonly authorize?: AuthorizationRules
  readonly limits?: Partial<GatewayLimits>
  /** Default: on in development and test, off in production (GRAPHQL_INTROSPECTION overrides). */
  readonly introspection?: boolean
  /** Serve GraphiQL at /graphiql. Default as introspection (GRAPHQL_GRAPHIQL overrides). */
  readonly graphiql?: boolean
  /** CSRF prevention; default on. */
  readonly csrf?: boolean
  /** Answer a repeated GET query from its compiled document, past the same guards. Default on; off sends every GET through mercurius. */
  readonly compiledGet?: boolean
  /** How long `consistentWith` waits before CONSISTENCY_TIMEOUT. Default 5 s. */
  readonly consistencyTimeoutMs?: number
  /** Close gracefully on SIGTERM and SIGINT. Default false. */
  readonly handleSignals?: boolean
  /** The environment to read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Fastify's logger option (pino options, or false); default pino at LOG_LEVEL. */
  readonly logger?: FastifyServerOptions['logger']
}

/** What createServer adds to the fastify instance, for operations and tests. */
export interface AnnalsServerHandle {
  readonly config: ServerConfig
  readonly store: EventStore
  readonly readSide: ReadSide | undefined
  readonly cluster: Cluster | undefined
  /** The GraphQL gateway: its schema, the subscription server, and how many GETs it answered compiled. */
  readonly gateway: Gateway
}

declare module 'fastify' {
  interface FastifyInstance {
    annals: AnnalsServerHandle
  }
}

/**
 * Builds an Annals service: the command pipeline (sharded when `cluster` is given), the read side, the
 * GraphQL gateway at /graphql, health, readiness and metrics, and a graceful shutdown. Returns the fastify
 * instance, ready to listen.
 *
 * @example
 * const readSide = createReadSide({ projections: [Fleet], reactors: [Dispatcher] })
 * const app = await createServer({ aggregates: [Battery], readSide, handleSignals: true })
 * await app.listen({ port: app.annals.config.port, host: app.annals.config.host })
 */
export async function createServer(options: ServerOptions): Promise<FastifyInstance> {
  const config = parseServerConfig(options.env ?? process.env)
  const limits: GatewayLimits = { ...defaultLimits, ...options.limits }
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel, mixin: traceLogFields },
    bodyLimit: limits.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { querystringParser: createQuerystringCache().parse },
  })
  const resolved = await resolveStore(options.store, {
    eventStoreUrl: config.eventStoreUrl,
    dataDir: options.dataDir ?? config.dataDir,
  })
  const { store } = resolved
  app.log.info({ store: resolved.description }, 'Annals event store')
  const metrics = createServerMetrics()
  const selfUrl = options.selfUrl ?? config.selfUrl ?? defaultSelfUrl(config.host, config.port)
  const env = options.env ?? process.env
  // Peers in the environment are all a service needs to scale out: no code change between one replica and many.
  const clusterOption =
    options.cluster ?? (env['ANNALS_PEERS'] || env['ANNALS_PEERS_DNS'] ? createCluster({ env }) : undefined)
  // One replica is a cluster of one: the same pipeline, aggregates held in memory, that a sharded replica runs.
  const local = createCommandBus({
    store,
    aggregates: options.aggregates,
    ...(config.maxHostedAggregates === undefined ? {} : { maxHosted: config.maxHostedAggregates }),
    ...(config.passivateAfterMs === undefined ? {} : { passivateAfterMs: config.passivateAfterMs }),
    ...options.commands,
  })
  metrics.watchHost(local.host)
  const cluster = clusterOption ? await clusterOption.create({ local, http: app, selfUrl }) : undefined
  if (cluster) metrics.watchCluster(cluster)
  const shutdown = trackShutdown(metrics.instrument(cluster?.commands ?? local))
  const commands = shutdown.commands

  const dataDir = options.dataDir ?? config.dataDir
  const readSide = await options.readSide?.create({
    store,
    commands,
    ...(cluster
      ? { ownsPartition: (reactor: string, partition: string) => cluster.ownsPartition(reactor, partition) }
      : {}),
    log: app.log,
    env,
    replica: selfUrl,
    ...(dataDir === undefined ? {} : { dataDir }),
  })
  if (readSide) metrics.watchReadSide(readSide)
  if (readSide?.rebalance && cluster) cluster.onChange(() => readSide.rebalance?.())

  const introspection = options.introspection ?? config.introspection ?? config.environment !== 'production'
  const gateway = await registerGateway(app, {
    definition: { aggregates: options.aggregates, sources: readSide?.sources ?? [] },
    runtime: {
      commands,
      store,
      ...(options.authorize ? { authorization: options.authorize } : {}),
      consistencyTimeoutMs: options.consistencyTimeoutMs ?? 5000,
      maxPageSize: limits.maxPageSize,
      subscriptionBuffer: limits.subscriptionBuffer,
      onSubscriptionEnd: (reason) => metrics.subscriptionEnded(reason),
    },
    authenticate: await createAuthentication(app, {
      ...(options.authenticate ? { authenticate: options.authenticate } : {}),
      ...(options.auth?.jwt ? { jwt: options.auth.jwt } : {}),
    }),
    limits,
    introspection,
    graphiql: options.graphiql ?? config.graphiql ?? introspection,
    csrf: options.csrf ?? true,
    compiledGet: options.compiledGet ?? true,
    isDraining: shutdown.isDraining,
    onSubscriptionsChange: (active) => metrics.setActiveSubscriptions(active),
  })
  registerHealthRoutes(app, { store, readSide, metrics, isDraining: shutdown.isDraining })
  app.decorate('annals', { config, store, readSide, cluster, gateway })

  // A reply that finishes after close began would keep its keep-alive connection, and close waits for it.
  app.addHook('onSend', async (_request, reply) => {
    if (shutdown.isDraining()) void reply.header('connection', 'close')
  })
  app.addHook('onReady', async () => {
    await readSide?.start()
  })
  app.addHook('preClose', async () => {
    shutdown.beginDraining()
    await cluster?.leave()
    await gateway.subscriptions.close(1001, 'The server is shutting down')
  })
  app.addHook('onClose', async () => {
    await shutdown.awaitInFlight(config.shutdownTimeoutMs, app.log)
    await readSide?.stop()
    await cluster?.close()
    await local.host.drain()
    local.close()
    await resolved.close()
  })
  if (options.handleSignals) shutdown.handleSignals(app, config.shutdownTimeoutMs)
  return app
}
