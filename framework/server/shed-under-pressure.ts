import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply } from 'fastify'

export interface PressureOptions {
  /** GraphQL requests are refused while the event loop's mean delay over a sample passes this (ms); 0: never. */
  readonly maxEventLoopDelayMs: number
  /**
   * The share of its time the event loop may be busy (0 to 1) before a growing share of GraphQL requests is
   * refused (createUtilizationShedder); 0: never.
   */
  readonly maxEventLoopUtilization: number
  /** Where the gateway is served: only its requests are shed, so health and metrics keep answering. */
  readonly path: string
  /** Counts each refused request. */
  readonly onShed: () => void
}

/** Default bound of the event loop's delay before GraphQL requests are refused, in milliseconds. */
export const DEFAULT_MAX_EVENT_LOOP_DELAY_MS = 500
/** How often the utilization shedder measures the loop and moves its share, in milliseconds. */
export const UTILIZATION_INTERVAL_MS = 100
/** How much the refused share moves per interval. */
export const SHED_STEP = 0.1
/** The most the utilization shedder refuses: a few requests always pass, and show when the load is gone. */
export const MAX_SHED_SHARE = 0.9
const RETRY_AFTER_MS = 1_000

export interface UtilizationShedderOptions {
  /** The busy share of the loop (0 to 1) past which the refused share grows. */
  readonly maxUtilization: number
  /** The loop's utilization since the last call (default: perf_hooks' eventLoopUtilization, over each interval). */
  readonly sample?: () => number
  /** Starts the interval (default setInterval, unref'd); returns what stops it. */
  readonly every?: (ms: number, tick: () => void) => () => void
}

/** The share of requests to refuse now, following how busy the event loop has been. */
export interface UtilizationShedder {
  /** The share (0 to MAX_SHED_SHARE) of new requests to refuse. */
  share(): number
  /** Whether to refuse the request arriving now. */
  refuses(): boolean
  close(): void
}

/**
 * Refuses a share of requests that follows the event loop's utilization: every 100 ms, a loop busier than
 * `maxUtilization` raises the share by a tenth, a loop within it lowers it by a tenth. Above saturation the
 * share settles where the admitted work keeps the loop just within the bound, so the loop keeps some idle
 * time: the refused requests are answered at once instead of waiting behind a saturated loop, the admitted
 * ones keep their latency, and the work that follows them (projections, workflows) keeps up instead of falling
 * behind. A share rather than a gate: a single busy interval at a load the replica sustains refuses a tenth of
 * one interval's requests, not all of them, and above saturation the refusals spread evenly instead of
 * coming in bursts. The latency limit of the command path (createLatencyLimit) defends the store's queue;
 * this defends the loop, which every request and the read side share.
 */
export function createUtilizationShedder(options: UtilizationShedderOptions): UtilizationShedder {
  let last: EventLoopUtilization = performance.eventLoopUtilization()
  const sample =
    options.sample ??
    (() => {
      const now = performance.eventLoopUtilization()
      const { utilization } = performance.eventLoopUtilization(now, last)
      last = now
      return utilization
    })
  const every =
    options.every ??
    ((ms, tick) => {
      const timer = setInterval(tick, ms).unref()
      return () => clearInterval(timer)
    })
  let share = 0
  const stop = every(UTILIZATION_INTERVAL_MS, () => {
    const busy = sample() > options.maxUtilization
    share = Math.min(MAX_SHED_SHARE, Math.max(0, share + (busy ? SHED_STEP : -SHED_STEP)))
  })
  return {
    share: () => share,
    refuses: () => share > 0 && Math.random() < share,
    close: stop,
  }
}

/**
 * Refuses GraphQL requests with OVERLOADED (HTTP 503, Retry-After) while the process is saturated, as they are
 * read, before their body is parsed, so the excess costs little. A CPU-bound replica queues requests in its
 * sockets and its event loop before any command reaches a mailbox, where the queue bounds never see them. Two
 * signals: the share of the loop's time it is busy (createUtilizationShedder: a growing share of requests is
 * refused) and, as a hard stop, its delay (@fastify/under-pressure: every request is refused while the loop
 * lags past its bound).
 */
export async function shedUnderPressure(app: FastifyInstance, options: PressureOptions): Promise<void> {
  const body = JSON.stringify({
    data: null,
    errors: [
      {
        message: 'The server is saturated; retry later',
        extensions: { code: 'OVERLOADED', retryAfterMs: RETRY_AFTER_MS },
      },
    ],
  })
  const refuse = (reply: FastifyReply) => {
    options.onShed()
    return reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_MS / 1000))
      .header('content-type', 'application/json; charset=utf-8')
      .send(body)
  }
  const ofGateway = (url: string) => url.split('?', 1)[0] === options.path
  if (options.maxEventLoopUtilization > 0) {
    const shedder = createUtilizationShedder({ maxUtilization: options.maxEventLoopUtilization })
    app.addHook('onClose', (_instance, done) => {
      shedder.close()
      done()
    })
    app.addHook('onRequest', (request, reply, done) => {
      if (shedder.refuses() && ofGateway(request.url)) void refuse(reply)
      else done()
    })
  }
  if (options.maxEventLoopDelayMs <= 0) return
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    // Short samples: shedding starts and stops within a tenth of a second of the loop's state changing.
    sampleInterval: 100,
    pressureHandler: (request, reply) => {
      if (ofGateway(request.url)) void refuse(reply)
    },
  })
}
