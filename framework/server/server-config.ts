import { z } from 'zod'
import { AnnalsError } from '../errors.ts'

const flag = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1')

/**
 * The environment createServer reads. Every variable is optional; a bad value stops start-up with a message
 * naming the variable.
 */
export const ServerEnvironment = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  EVENTSTORE_URL: z
    .string()
    .regex(
      /^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\//,
      'must be an esdb:// connection string',
    )
    .optional(),
  ANNALS_DATA_DIR: z.string().min(1).optional(),
  ANNALS_SELF_URL: z.url().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHQL_INTROSPECTION: flag.optional(),
  GRAPHQL_GRAPHIQL: flag.optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** An aggregate idle this long is dropped from memory (default 5 minutes). */
  ANNALS_PASSIVATE_AFTER_MS: z.coerce.number().int().positive().optional(),
  /** At most this many aggregates are held in memory (default 10,000). */
  ANNALS_MAX_HOSTED_AGGREGATES: z.coerce.number().int().positive().optional(),
  /** A request slower than this is logged at warn (default 1,000 ms); the others at debug. */
  ANNALS_SLOW_REQUEST_MS: z.coerce.number().int().nonnegative().optional(),
  /** GraphQL requests get OVERLOADED while the event loop lags more than this (default 500 ms, off under NODE_ENV=test; 0: off). */
  ANNALS_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().nonnegative().optional(),
  /** Commands waiting on this replica beyond which a new one gets OVERLOADED (default 5,000). */
  ANNALS_MAX_QUEUED_COMMANDS: z.coerce.number().int().positive().optional(),
  /** Commands waiting for one aggregate beyond which a new one to it gets OVERLOADED (default 1,000). */
  ANNALS_MAX_QUEUED_PER_AGGREGATE: z.coerce.number().int().positive().optional(),
})

/** The parsed configuration, with camel-case names. */
export interface ServerConfig {
  readonly environment: 'development' | 'production' | 'test'
  readonly port: number
  readonly host: string
  readonly eventStoreUrl: string | undefined
  readonly dataDir: string | undefined
  readonly selfUrl: string | undefined
  readonly logLevel: string
  readonly introspection: boolean | undefined
  readonly graphiql: boolean | undefined
  readonly shutdownTimeoutMs: number
  readonly passivateAfterMs: number | undefined
  readonly maxHostedAggregates: number | undefined
  readonly maxQueuedCommands: number | undefined
  readonly maxQueuedPerAggregate: number | undefined
  readonly slowRequestMs: number | undefined
  readonly maxEventLoopDelayMs: number | undefined
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
  return {
    environment: value.NODE_ENV,
    port: value.PORT,
    host: value.HOST,
    eventStoreUrl: value.EVENTSTORE_URL,
    dataDir: value.ANNALS_DATA_DIR,
    selfUrl: value.ANNALS_SELF_URL,
    logLevel: value.LOG_LEVEL,
    introspection: value.GRAPHQL_INTROSPECTION,
    graphiql: value.GRAPHQL_GRAPHIQL,
    shutdownTimeoutMs: value.SHUTDOWN_TIMEOUT_MS,
    passivateAfterMs: value.ANNALS_PASSIVATE_AFTER_MS,
    maxHostedAggregates: value.ANNALS_MAX_HOSTED_AGGREGATES,
    maxQueuedCommands: value.ANNALS_MAX_QUEUED_COMMANDS,
    slowRequestMs: value.ANNALS_SLOW_REQUEST_MS,
    maxEventLoopDelayMs: value.ANNALS_MAX_EVENT_LOOP_DELAY_MS,
    maxQueuedPerAggregate: value.ANNALS_MAX_QUEUED_PER_AGGREGATE,
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
