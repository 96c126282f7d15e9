import { randomUUID } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import fastifyPlugin from 'fastify-plugin'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { createCommandBus, type CommandBusOptions } from '../command/create-command-bus.ts'
import type { CommandBus } from '../command/command-bus.ts'
import { AnnalsError } from '../errors.ts'
import type { EventStore } from '../event-store/event-store.ts'
import type { Authenticate, JwtOptions } from '../graphql/guards/authenticate-request.ts'
import { checkJwtOptions, createAuthentication } from '../graphql/guards/authenticate-request.ts'
import type { AuthorizationRule, AuthorizationRules } from '../graphql/guards/authorize-operation.ts'
import { defaultLimits, type GatewayLimits } from '../graphql/guards/gateway-limits.ts'
import { registerGateway, type Gateway } from '../graphql/transport/register-gateway.ts'
import { registerOperations } from '../operations/register-operations.ts'
import { OPERATIONS_PATH } from '../operations/operations-schema.ts'
import type { ReadSide, ReadSideOption } from '../read-model/read-side.ts'
import { scheduledCommandAggregate } from '../schedule/scheduled-command-aggregate.ts'
import type { Cluster, ClusterOption } from '../sharding/cluster.ts'
import { createCluster } from '../sharding/create-cluster.ts'
import { registerHealthRoutes, registerMetricsRoute } from './health-routes.ts'
import { defaultLogger } from './default-logger.ts'
import { createQuerystringCache } from './querystring-cache.ts'
import { createRequestLog, DEFAULT_SLOW_REQUEST_MS } from './request-log.ts'
import { resolveStore, type StoreOption } from './resolve-store.ts'
import { defaultSelfUrl, parseServerConfig, type ServerConfig } from './server-config.ts'
import { createServerMetrics } from './server-metrics.ts'
import { DEFAULT_MAX_EVENT_LOOP_DELAY_MS, shedUnderPressure } from './shed-under-pressure.ts'
import { DEFAULT_LATENCY_TARGET_MS } from '../command/latency-limit.ts'
import { trackShutdown } from './track-shutdown.ts'

export interface ServerOptions {
  readonly aggregates: readonly AnyAggregate[]
  /** The projections and reactors, as createReadSide (annals/projections) gives them: each projection becomes a read model with queries and subscriptions. */
  readonly readSide?: ReadSideOption | undefined
  /**
   * An EventStore, or a connection string; default EVENTSTORE_URL, else a devstore in this process (on a thread
   * of its own with ANNALS_DEVSTORE_THREAD=true).
   */
  readonly store?: StoreOption
  /** Where the devstore in this process keeps its log (default ANNALS_DATA_DIR, else memory). */
  readonly dataDir?: string
  /**
   * How this replica runs commands: aggregates held in memory (the default) or `stateless`, and the bounds of
   * what it holds and queues (ANNALS_MAX_HOSTED_AGGREGATES, ANNALS_PASSIVATE_AFTER_MS,
   * ANNALS_MAX_QUEUED_COMMANDS and ANNALS_MAX_QUEUED_PER_AGGREGATE set them too).
   */
  readonly commands?: Omit<CommandBusOptions, 'store' | 'aggregates'>
  /** Shards aggregates across replicas; default createCluster() when ANNALS_PEERS or ANNALS_PEERS_DNS is set. */
  readonly cluster?: ClusterOption
  /** This replica's internal address for peers; default ANNALS_SELF_URL, else http://HOST:PORT. */
  readonly selfUrl?: string
  /** Finds the principal of a request; overrides `auth`. */
  readonly authenticate?: Authenticate
  /**
   * Bearer tokens verified with `jwt`, or `'none'`: every caller anonymous, on purpose. Default from
   * ANNALS_JWT_SECRET or ANNALS_AUTH; production refuses to start with neither (nor `authenticate`).
   */
  readonly auth?: 'none' | { readonly jwt: JwtOptions }
  /**
   * Rules per command, query and subscription. With authentication configured, a command no rule names needs
   * a signed-in principal (set `default` to decide otherwise); without it, everything is allowed.
   */
  readonly authorize?: AuthorizationRules
  /**
   * Where /metrics is served: `{ port }` on a port of its own (on HOST), `'main'` on the main port beside
   * GraphQL. Default ANNALS_METRICS_PORT, else 9464 in production and the main port in development and test.
   */
  readonly metrics?: { readonly port: number } | 'main'
  readonly limits?: Partial<GatewayLimits>
  /**
   * The operations endpoint /ops/graphql (projections, reactors, workflows, the ring, the store; pause,
   * resume, rebuild, retry and discard): `{ token }` is the bearer token operators send (default
   * ANNALS_OPS_TOKEN); a sharded service's cluster secret is accepted too. With neither it is open outside
   * production and absent in production. `false` removes it.
   */
  readonly ops?: { readonly token?: string } | false
  /** Default: on in development and test, off in production (GRAPHQL_INTROSPECTION overrides). */
  readonly introspection?: boolean
  /** Serve GraphiQL at /graphiql. Default as introspection (GRAPHQL_GRAPHIQL overrides). */
  readonly graphiql?: boolean
  /** CSRF prevention over HTTP, and the same-origin rule on WebSocket upgrades; default on. */
  readonly csrf?: boolean
  /**
   * Browser origins (`https://app.example.com`) that may call the service from another site: CORS answers
   * their preflights and their WebSocket upgrades are accepted. Default ANNALS_ALLOWED_ORIGINS, else none.
   */
  readonly allowedOrigins?: readonly string[]
  /** How long `consistentWith` waits before CONSISTENCY_TIMEOUT. Default 5 s. */
  readonly consistencyTimeoutMs?: number
  /** Close gracefully on SIGTERM and SIGINT. Default false. */
  readonly handleSignals?: boolean
  /** The environment to read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * A request slower than this is logged at warn with its time (default ANNALS_SLOW_REQUEST_MS, else 1,000 ms);
   * every other request is logged at debug only.
   */
  readonly slowRequestMs?: number
  /**
   * GraphQL requests are refused with OVERLOADED while the event loop's delay passes this many milliseconds
   * (default ANNALS_MAX_EVENT_LOOP_DELAY_MS, else 500, or 0 with NODE_ENV=test; 0 turns it off).
   */
  readonly maxEventLoopDelayMs?: number
  /**
   * A growing share of GraphQL requests is refused with OVERLOADED while the event loop is busy more than this
   * share of its time (createUtilizationShedder; default ANNALS_MAX_EVENT_LOOP_UTILIZATION, else 0: off). Off by
   * default: a read side catching up keeps the loop busy too, and would have requests refused meanwhile.
   */
  readonly maxEventLoopUtilization?: number
  /** Fastify's logger option (pino options, or false); default JSON lines at LOG_LEVEL, readable lines in development on a terminal. */
  readonly logger?: FastifyServerOptions['logger']
}

/** What createServer adds to the fastify instance, for operations and tests. */
export interface AnnalsServerHandle {
  readonly config: ServerConfig
  readonly store: EventStore
  readonly readSide: ReadSide | undefined
  readonly cluster: Cluster | undefined
  /**
   * The command bus the gateway and the reactors use (routed to each aggregate's owner in a cluster): how a
   * program or a test sends a command that is not a mutation, an internal one included.
   */
  readonly commands: CommandBus
  /** The GraphQL gateway: its schema, the subscription server, and how many GETs it answered compiled. */
  readonly gateway: Gateway
  /** The URL /metrics answers at once listening, when it has a port of its own. */
  readonly metricsUrl: () => string | undefined
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
  const { logger, slowRequestMs, ...annalsOptions } = options
  const app = Fastify({
    logger: logger ?? defaultLogger(config),
    logController: createRequestLog({
      slowRequestMs: slowRequestMs ?? config.slowRequestMs ?? DEFAULT_SLOW_REQUEST_MS,
    }),
    bodyLimit: limits.maxBodyBytes,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    routerOptions: { querystringParser: createQuerystringCache().parse },
  })
  await app.register(annals, annalsOptions)
  return app
}

/** What the annals plugin takes: a service's options, less those of the fastify instance it mounts into. */
export type AnnalsOptions = Omit<ServerOptions, 'logger' | 'slowRequestMs'>

/**
 * Mounts Annals into a fastify application that has its own instance and routes: the GraphQL gateway at
 * /graphql, health at /health/live and /health/ready, metrics, and the service's lifecycle (the read side starts
 * on ready, everything drains and stops on close), as createServer does. The application's logger, request ids
 * and body limit apply, except that /graphql keeps the gateway's `maxBodyBytes`.
 *
 * @example
 * const app = Fastify({ logger: true })
 * app.get('/hello', async () => 'hi')
 * await app.register(annals, { aggregates: [Battery], readSide: createReadSide({ projections: [batteryStatus] }) })
 */
export const annals = fastifyPlugin(mountAnnals, { name: 'annals', fastify: '5.x' })

async function mountAnnals(app: FastifyInstance, options: AnnalsOptions): Promise<void> {
  const config = parseServerConfig(options.env ?? process.env)
  const limits: GatewayLimits = { ...defaultLimits, ...options.limits }
  const auth = options.authenticate ? 'custom' : (options.auth ?? config.auth)
  if (auth === undefined && config.environment === 'production') {
    throw new AnnalsError(
      'BAD_CONFIG',
      "NODE_ENV=production needs an explicit authentication: auth: { jwt } or authenticate (ANNALS_JWT_SECRET), or auth: 'none' (ANNALS_AUTH=none) to serve every caller anonymously",
    )
  }
  if (typeof auth === 'object') checkJwtOptions(auth.jwt)
  const opsToken = options.ops === false ? undefined : (options.ops?.token ?? config.opsToken)
  if (opsToken !== undefined && opsToken.length < 16) {
    throw new AnnalsError('BAD_CONFIG', 'ops.token needs at least 16 characters')
  }
  // The gateway's own body limit, whatever the application's: checked before a body is read.
  app.addHook('onRoute', (route) => {
    if (route.url === '/graphql') route.bodyLimit = limits.maxBodyBytes
  })
  const resolved = await resolveStore(options.store, {
    eventStoreUrl: config.eventStoreUrl,
    dataDir: options.dataDir ?? config.dataDir,
    devstoreThread: config.devstoreThread,
    devstoreSystemProjections: config.devstoreSystemProjections,
  })
  const { store } = resolved
  app.log.info({ store: resolved.description }, 'Annals event store')
  const metrics = createServerMetrics()
  const pressure = await shedUnderPressure(app, {
    // Off by default under test: a shared CI machine lags often enough to turn a test's request away.
    maxEventLoopDelayMs:
      options.maxEventLoopDelayMs ??
      config.maxEventLoopDelayMs ??
      (config.environment === 'test' ? 0 : DEFAULT_MAX_EVENT_LOOP_DELAY_MS),
    maxEventLoopUtilization: options.maxEventLoopUtilization ?? config.maxEventLoopUtilization ?? 0,
    path: '/graphql',
    onShed: () => metrics.requestShed(),
  })
  const selfUrl = options.selfUrl ?? config.selfUrl ?? defaultSelfUrl(config.host, config.port)
  const env = options.env ?? process.env
  // Peers in the environment are all a service needs to scale out: no code change between one replica and many.
  const clusterOption =
    options.cluster ?? (env['ANNALS_PEERS'] || env['ANNALS_PEERS_DNS'] ? createCluster({ env }) : undefined)
  const scheduledCommands = options.readSide?.scheduledCommands === true
  // One replica is a cluster of one: the same pipeline, aggregates held in memory, that a sharded replica runs.
  const local = createCommandBus({
    store,
    aggregates: scheduledCommands
      ? [...options.aggregates, scheduledCommandAggregate(options.aggregates)]
      : options.aggregates,
    ...(config.maxHostedAggregates === undefined ? {} : { maxHosted: config.maxHostedAggregates }),
    ...(config.passivateAfterMs === undefined ? {} : { passivateAfterMs: config.passivateAfterMs }),
    ...(config.maxQueuedCommands === undefined ? {} : { maxQueuedCommands: config.maxQueuedCommands }),
    ...(config.maxQueuedPerAggregate === undefined
      ? {}
      : { maxQueuedPerAggregate: config.maxQueuedPerAggregate }),
    // Off by default under test, as the event loop's bound: a shared CI machine stalls often enough to trip it.
    latencyTargetMs:
      config.latencyTargetMs ?? (config.environment === 'test' ? 0 : DEFAULT_LATENCY_TARGET_MS),
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
    onTimerFired: (workflow, latenessMs) => metrics.timerFired(workflow, latenessMs),
  })
  if (readSide) metrics.watchReadSide(readSide)
  if (readSide?.rebalance && cluster) cluster.onChange(() => readSide.rebalance?.())

  if (auth === undefined || auth === 'none') {
    const say = config.environment === 'production' || auth === 'none' ? app.log.warn : app.log.info
    say.call(
      app.log,
      'No authentication: every caller is anonymous and may run every command the authorization rules allow',
    )
  }
  const authorization =
    auth === undefined || auth === 'none' ? options.authorize : signedInCommands(options.authorize)
  const introspection = options.introspection ?? config.introspection ?? config.environment !== 'production'
  const gateway = await registerGateway(app, {
    definition: {
      aggregates: options.aggregates,
      sources: readSide?.sources ?? [],
      scheduledCommands,
      workflows: options.readSide?.workflows ?? [],
    },
    runtime: {
      commands,
      ...(readSide?.workflowView ? { workflow: (name: string) => readSide.workflowView!(name) } : {}),
      store,
      ...(authorization ? { authorization } : {}),
      consistencyTimeoutMs: options.consistencyTimeoutMs ?? 5000,
      maxPageSize: limits.maxPageSize,
      subscriptionBuffer: limits.subscriptionBuffer,
      onSubscriptionEnd: (reason) => metrics.subscriptionEnded(reason),
    },
    authenticate: await createAuthentication(app, {
      ...(options.authenticate ? { authenticate: options.authenticate } : {}),
      ...(typeof auth === 'object' ? { jwt: auth.jwt } : {}),
    }),
    limits,
    introspection,
    graphiql: options.graphiql ?? config.graphiql ?? introspection,
    csrf: options.csrf ?? true,
    allowedOrigins: options.allowedOrigins ?? config.allowedOrigins ?? [],
    isDraining: shutdown.isDraining,
    refusesConnection: () => pressure.refusesConnection(),
    onSubscriptionsChange: (active) => metrics.setActiveSubscriptions(active),
  })
  registerHealthRoutes(app, { store, readSide, isDraining: shutdown.isDraining })
  if (options.ops !== false) {
    const mounted = registerOperations(app, {
      token: opsToken,
      cluster,
      production: config.environment === 'production',
      target: {
        readSide,
        cluster,
        store,
        storeKind: resolved.kind,
        storeDescription: resolved.description,
        // Where it listens, once it does (port 0 picks one): the URL configured otherwise.
        selfUrl: () => {
          if (options.selfUrl ?? config.selfUrl) return selfUrl
          const address = app.server.address()
          return typeof address === 'object' && address
            ? defaultSelfUrl(address.address, address.port)
            : selfUrl
        },
        hostedAggregates: () => local.host.hosted(),
        onRebuildFailed: (projection, error) =>
          app.log.warn({ projection, err: error }, 'projection rebuild stopped'),
      },
    })
    if (mounted === 'open') {
      app.log.info(`${OPERATIONS_PATH} is open without authentication: set ANNALS_OPS_TOKEN to require one`)
    } else if (mounted === 'absent') {
      app.log.info(
        `${OPERATIONS_PATH} is off: production serves it only with ANNALS_OPS_TOKEN or a cluster secret`,
      )
    }
  }
  const metricsPort = options.metrics === 'main' ? undefined : (options.metrics?.port ?? config.metricsPort)
  // Metrics name aggregates, projections and peers: on a port of their own, a public listener does not show them.
  const metricsServer = metricsPort === undefined ? undefined : Fastify({ logger: false })
  if (metricsServer) registerMetricsRoute(metricsServer, metrics)
  else registerMetricsRoute(app, metrics)
  const metricsUrl = () => {
    const address = metricsServer?.server.address()
    return typeof address === 'object' && address
      ? `${defaultSelfUrl(address.address, address.port)}/metrics`
      : undefined
  }
  app.decorate('annals', { config, store, readSide, cluster, commands, gateway, metricsUrl })
  if (metricsServer && metricsPort !== undefined) {
    app.addHook('onListen', async () => {
      await metricsServer.listen({ port: metricsPort, host: config.host })
    })
  }

  // A reply that finishes after close began would keep its keep-alive connection, and close waits for it.
  app.addHook('onSend', async (_request, reply) => {
    if (shutdown.isDraining()) void reply.header('connection', 'close')
  })
  app.addHook('onReady', async () => {
    await readSide?.start()
  })
  app.addHook('preClose', async () => {
    app.log.info('Annals server draining')
    shutdown.beginDraining()
    await cluster?.leave()
    await gateway.subscriptions.close(1001, 'The server is shutting down')
  })
  app.addHook('onClose', async () => {
    await shutdown.awaitInFlight(config.shutdownTimeoutMs, app.log)
    await readSide?.stop()
    await cluster?.close()
    await metricsServer?.close()
    await local.host.drain()
    local.close()
    await resolved.close()
    app.log.info('Annals server stopped')
  })
  if (options.handleSignals) shutdown.handleSignals(app, config.shutdownTimeoutMs)
}

/** A command no rule names needs a principal; queries and subscriptions stay open unless a rule says no. */
const signedInForCommands: AuthorizationRule = (principal, request) =>
  request.kind !== 'command' || principal !== undefined

function signedInCommands(rules: AuthorizationRules | undefined): AuthorizationRules {
  return { ...rules, default: rules?.default ?? signedInForCommands }
}
