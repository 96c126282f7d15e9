import type { FastifyServerOptions } from 'fastify'
import pretty from 'pino-pretty'
import { traceLogFields } from '../tracing/trace-log-fields.ts'
import type { ServerConfig } from './server-config.ts'

/**
 * The logger createServer makes when it is given none: one JSON line per event at LOG_LEVEL, for a log
 * collector; in development on a terminal, readable lines (pino-pretty) instead, for the person reading them.
 * Output that is piped or redirected stays JSON, in development too.
 */
export function defaultLogger(
  config: Pick<ServerConfig, 'environment' | 'logLevel'>,
  output: { readonly isTTY?: boolean } = process.stdout,
): NonNullable<FastifyServerOptions['logger']> {
  const json = { level: config.logLevel, mixin: traceLogFields }
  if (config.environment !== 'development' || output.isTTY !== true) return json
  return {
    ...json,
    stream: pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', sync: true }),
  }
}
