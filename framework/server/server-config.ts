import { z } from 'zod'
import { AnnalsError } from '../errors.ts'
import type { JwtOptions } from '../graphql/guards/authenticate-request.ts'
import { isUtilizationBound, UTILIZATION_BOUND_RANGE } from './shed-under-pressure.ts'

/** A comma-separated list of browser origins, each `scheme://host[:port]` as a browser sends it. */
const originList = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== ''),
  )
  .refine(
    (origins) => origins.every(isOrigin),
    'must list origins such as https://app.example.com, comma-separated',
  )

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1')

/**
 * The environment createServer reads. Every variable is optional; a bad value stops start-up with a message
 * naming the variable.
 */
export const ServerEnvironment = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  /** Default 127.0.0.1 (loopback) in development and test, 0.0.0.0 (every interface) in production. */
  HOST: z.string().min(1).optional(),
  EVENTSTORE_URL: z
    .string()
    .regex(
      /^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\//,
      'must be an esdb:// connection string',
    )
    .optional(),
  ANNALS_DATA_DIR: z.string().min(1).optional(),
  /**
   * Run the devstore on a worker thread of its own (true), or on the service's event loop (default false: see
   * docs/devstore.md for what each does under load).
   */
  ANNALS_DEVSTORE_THREAD: flag.optional(),
  /**
   * Run EventStoreDB's system projections (`$ce-`, `$et-`, `$bc-`, `$category-` and `$streams` links) in that
   * devstore (true), or keep them stopped until enabled, as a production EventStoreDB node does (default false,
   * whatever its data directory says).
   */
  ANNALS_DEVSTORE_SYSTEM_PROJECTIONS: flag.optional(),
  ANNALS_SELF_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHQL_INTROSPECTION: flag.optional(),
  GRAPHQL_GRAPHIQL: flag.optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** `none`: run without authentication, on purpose (said at warn in the log). Production needs it or a JWT secret. */
  ANNALS_AUTH: z.enum(['none']).optional(),
  /** Verify bearer tokens (HS256) with this secret, at least 32 bytes. */
  ANNALS_JWT_SECRET: z.string().min(1).optional(),
  /** Accept only tokens issued by this `iss`. */
  ANNALS_JWT_ISSUER: z.string().min(1).optional(),
  /** Accept only tokens for this `aud`. */
  ANNALS_JWT_AUDIENCE: z.string().min(1).optional(),
  /** The bearer token of the operations endpoint /ops/graphql, at least 16 characters. */
  ANNALS_OPS_TOKEN: z.string().min(16, 'needs at least 16 characters').optional(),
  /** Serve /metrics on this port instead of the main one (default 9464 in production). */
  ANNALS_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /** Browser origins let in across sites (CORS and WebSocket upgrades); default none. */
  ANNALS_ALLOWED_ORIGINS: originList.optional(),
  /** An aggregate idle this long is dropped from memory (default 5 minutes). */
  ANNALS_PASSIVATE_AFTER_MS: z.coerce.number().int().positive().optional(),
  /** At most this many aggregates are held in memory (default 10,000). */
  ANNALS_MAX_HOSTED_AGGREGATES: z.coerce.number().int().positive().optional(),
  /** A request slower than this is logged at warn (default 1,000 ms); the others at debug. */
  ANNALS_SLOW_REQUEST_MS: z.coerce.number().int().nonnegative().optional(),
  /** GraphQL requests get OVERLOADED while the event loop lags more than this (default 500 ms, off under NODE_ENV=test; 0: off). */
  ANNALS_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().nonnegative().optional(),
  /**
   * The share of its time the event loop may be busy before a growing share of GraphQL requests gets
   * OVERLOADED: 0 (the default, off) or from 0.5 to below 1; 0.95 keeps a replica above saturation answering
   * and its read side current.
   */
  ANNALS_MAX_EVENT_LOOP_UTILIZATION: z.coerce
    .number()
    .refine(isUtilizationBound, { message: UTILIZATION_BOUND_RANGE })
    .optional(),
  /** Commands waiting on this replica beyond which a new one gets OVERLOADED (default 5,000). */
  ANNALS_MAX_QUEUED_COMMANDS: z.coerce.number().int().positive().optional(),
  /** Commands waiting for one aggregate beyond which a new one to it gets OVERLOADED (default 1,000). */
  ANNALS_MAX_QUEUED_PER_AGGREGATE: z.coerce.number().int().positive().optional(),
  /** The command latency a replica defends by refusing the excess (default 20 ms, off under NODE_ENV=test; 0: off). */
  ANNALS_LATENCY_TARGET_MS: z.coerce.number().int().nonnegative().optional(),
})

/** The parsed configuration, with camel-case names. */
export interface ServerConfig {
  readonly environment: 'development' | 'production' | 'test'
  readonly port: number
  readonly host: string
  readonly eventStoreUrl: string | undefined
  readonly dataDir: string | undefined
  /** Whether the devstore (when there is one) runs on a thread of its own. */
  readonly devstoreThread: boolean
  /** Whether that devstore runs its system projections. */
  readonly devstoreSystemProjections: boolean
  readonly selfUrl: string | undefined
  readonly logLevel: string
  readonly introspection: boolean | undefined
  readonly graphiql: boolean | undefined
  readonly shutdownTimeoutMs: number
  readonly passivateAfterMs: number | undefined
  readonly maxHostedAggregates: number | undefined
  readonly allowedOrigins: readonly string[] | undefined
  /** From ANNALS_AUTH and ANNALS_JWT_*: undefined when the environment says nothing. */
  readonly auth: 'none' | { readonly jwt: JwtOptions } | undefined
  readonly metricsPort: number | undefined
  /** The bearer token of /ops/graphql, from ANNALS_OPS_TOKEN. */
  readonly opsToken: string | undefined
  readonly maxQueuedCommands: number | undefined
  readonly maxQueuedPerAggregate: number | undefined
  readonly slowRequestMs: number | undefined
  readonly maxEventLoopDelayMs: number | undefined
  readonly maxEventLoopUtilization: number | undefined
  readonly latencyTargetMs: number | undefined
}

/**
 * Parses the environment (process.env by default) into the server's configuration.
 *
 * @example
 * const config = parseServerConfig({ PORT: '8080', EVENTSTORE_URL: 'esdb://localhost:2113?tls=false' })
 */
export function parseServerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServerConfig {
  const known = Object.fromEntries(
    Object.keys(ServerEnvironment.shape)
      .map((name) => [name, env[name] === '' ? undefined : env[name]])
      .filter(([, value]) => value !== undefined),
  ) as Record<string, string>
  const parsed = ServerEnvironment.safeParse(known)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment')
      return `${name}=${JSON.stringify(known[name])}: ${issue.message}`
    })
    throw new AnnalsError('BAD_CONFIG', `Bad configuration: ${problems.join('; ')}`)
  }
  const value = parsed.data
  const jwt: JwtOptions | undefined = value.ANNALS_JWT_SECRET
    ? {
        secret: value.ANNALS_JWT_SECRET,
        ...(value.ANNALS_JWT_ISSUER ? { issuer: value.ANNALS_JWT_ISSUER } : {}),
        ...(value.ANNALS_JWT_AUDIENCE ? { audience: value.ANNALS_JWT_AUDIENCE } : {}),
      }
    : undefined
  const production = value.NODE_ENV === 'production'
  return {
    environment: value.NODE_ENV,
    port: value.PORT,
    // A developer's service is reachable from their machine only, unless they say otherwise.
    host: value.HOST ?? (production ? '0.0.0.0' : '127.0.0.1'),
    eventStoreUrl: value.EVENTSTORE_URL,
    dataDir: value.ANNALS_DATA_DIR,
    devstoreThread: value.ANNALS_DEVSTORE_THREAD ?? false,
    devstoreSystemProjections: value.ANNALS_DEVSTORE_SYSTEM_PROJECTIONS ?? false,
    selfUrl: value.ANNALS_SELF_URL,
    logLevel: value.LOG_LEVEL,
    introspection: value.GRAPHQL_INTROSPECTION,
    graphiql: value.GRAPHQL_GRAPHIQL,
    shutdownTimeoutMs: value.SHUTDOWN_TIMEOUT_MS,
    passivateAfterMs: value.ANNALS_PASSIVATE_AFTER_MS,
    maxHostedAggregates: value.ANNALS_MAX_HOSTED_AGGREGATES,
    allowedOrigins: value.ANNALS_ALLOWED_ORIGINS,
    auth: jwt ? { jwt } : value.ANNALS_AUTH,
    metricsPort: value.ANNALS_METRICS_PORT ?? (production ? 9464 : undefined),
    opsToken: value.ANNALS_OPS_TOKEN,
    maxQueuedCommands: value.ANNALS_MAX_QUEUED_COMMANDS,
    slowRequestMs: value.ANNALS_SLOW_REQUEST_MS,
    maxEventLoopDelayMs: value.ANNALS_MAX_EVENT_LOOP_DELAY_MS,
    maxEventLoopUtilization: value.ANNALS_MAX_EVENT_LOOP_UTILIZATION,
    maxQueuedPerAggregate: value.ANNALS_MAX_QUEUED_PER_AGGREGATE,
    latencyTargetMs: value.ANNALS_LATENCY_TARGET_MS,
  }
}

/**
 * The URL peers reach this replica at when ANNALS_SELF_URL is not set: loopback for a wildcard host (which
 * is where a replica listens, not an address to call), an IPv6 literal in brackets.
 *
 * @example
 * defaultSelfUrl('::', 4000) // 'http://[::1]:4000'
 */
export function defaultSelfUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value
  } catch {
    return false
  }
}
