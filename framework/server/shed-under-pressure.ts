import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'

export interface PressureOptions {
  /** GraphQL requests are refused while the event loop's mean delay over a sample passes this (ms); 0: never. */
  readonly maxEventLoopDelayMs: number
  /** Where the gateway is served: only its requests are shed, so health and metrics keep answering. */
  readonly path: string
  /** Counts each refused request. */
  readonly onShed: () => void
}

/** Default bound of the event loop's delay before GraphQL requests are refused, in milliseconds. */
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 500
const RETRY_AFTER_MS = 1_000

/**
 * Refuses GraphQL requests with OVERLOADED (HTTP 503, Retry-After) while the process is saturated, measured by
 * its event loop's delay (@fastify/under-pressure). A CPU-bound replica queues requests in its sockets and its
 * event loop before any command reaches a mailbox, where the queue bounds never see them: this refuses them
 * as they are read, before their body is parsed, so the excess costs little and answers in the loop's delay.
 */
export async function shedUnderPressure(app: FastifyInstance, options: PressureOptions): Promise<void> {
  if (options.maxEventLoopDelayMs <= 0) return
  const body = JSON.stringify({
    data: null,
    errors: [
      {
        message: 'The server is saturated; retry later',
        extensions: { code: 'OVERLOADED', retryAfterMs: RETRY_AFTER_MS },
      },
    ],
  })
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    // Short samples: shedding starts and stops within a tenth of a second of the loop's state changing.
    sampleInterval: 100,
    pressureHandler: (request, reply) => {
      if (request.url.split('?', 1)[0] !== options.path) return
      options.onShed()
      void reply
        .code(503)
        .header('retry-after', String(RETRY_AFTER_MS / 1000))
        .header('content-type', 'application/json; charset=utf-8')
        .send(body)
    },
  })
}
