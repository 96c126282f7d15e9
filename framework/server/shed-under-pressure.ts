import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import underPressure from '@fastify/under-pressure'
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import { AnnalsError } from '../errors.ts'

export interface PressureOptions {
  /** GraphQL requests are refused while the event loop's mean delay over a sample passes this (ms); 0: never. */
  readonly maxEventLoopDelayMs: number
  /**
   * The share of its time the event loop may be busy before a growing share of GraphQL requests is refused
   * (createUtilizationShedder): 0 (never), or from MIN_UTILIZATION_BOUND up to, not including, 1.
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
/** How much the refused share moves per interval: a tenth. */
export const SHED_STEP = 0.1
/** The most the utilization shedder refuses: some requests are always served. */
export const MAX_SHED_SHARE = 0.9
/**
 * The lowest utilization bound taken: an idle process is a little busy too (timers, scrapes), so a bound near
 * 0 would refuse requests to a replica doing nothing; 1 could never be passed.
 */
export const MIN_UTILIZATION_BOUND = 0.5
const RETRY_AFTER_MS = 1_000

/** Whether a utilization bound can be set: 0 (off), or from MIN_UTILIZATION_BOUND up to, not including, 1. */
export function isUtilizationBound(bound: number): boolean {
  return bound === 0 || (bound >= MIN_UTILIZATION_BOUND && bound < 1)
}

/** What a bad bound is told: the range it must be in. */
export const UTILIZATION_BOUND_RANGE = `0 (off), or from ${MIN_UTILIZATION_BOUND} up to, not including, 1`

/** Refuses a bound a shedder cannot run with (0 included: off is the server's, not a bound). */
function checkUtilizationBound(bound: number): void {
  if (bound === 0 || !isUtilizationBound(bound)) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `The event loop's utilization bound must be ${UTILIZATION_BOUND_RANGE}; got ${bound}`,
    )
  }
}

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
 * Refuses a share of requests that follows the event loop's utilization: at each 100 ms tick, a loop busier
 * than `maxUtilization` since the last one raises the share by a tenth, a loop within it lowers it by a tenth
 * (a blocked loop's late ticks count once). Above saturation the share settles where the admitted work keeps
 * the loop just within the bound, so the loop keeps some idle time: the refused requests cost a comparison
 * and wait only for the loop to read them, not behind the work they would have added, the admitted ones keep
 * their latency, and the work that follows them (projections, workflows) keeps up instead of falling behind.
 * A share rather than a gate: a single busy interval at a load the replica sustains refuses a tenth of one
 * interval's requests, not all of them, and above saturation the refusals spread evenly instead of coming in
 * bursts. The latency limit of the command path (createLatencyLimit) defends the store's queue;
 * this defends the loop, which every request and the read side share.
 */
export function createUtilizationShedder(options: UtilizationShedderOptions): UtilizationShedder {
  const bound = options.maxUtilization
  checkUtilizationBound(bound)
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
  // Counted in steps, not summed in floating point: down to 0 is exactly 0.
  const maxSteps = Math.round(MAX_SHED_SHARE / SHED_STEP)
  let steps = 0
  const stop = every(UTILIZATION_INTERVAL_MS, () => {
    steps = Math.min(maxSteps, Math.max(0, steps + (sample() > bound ? 1 : -1)))
  })
  return {
    share: () => steps * SHED_STEP,
    refuses: () => steps > 0 && Math.random() < steps * SHED_STEP,
    close: stop,
  }
}

/** What the gateway asks of the guards for what fastify's hooks do not see: a WebSocket upgrade. */
export interface PressureGuard {
  /** Whether a new WebSocket connection to the gateway, arriving now, is refused (and counted as shed). */
  refusesConnection(): boolean
}

/**
 * Refuses GraphQL requests with OVERLOADED (HTTP 503, Retry-After) while the process is saturated, as they are
 * read, before their body is parsed, so the excess costs little. A CPU-bound replica queues requests in its
 * sockets and its event loop before any command reaches a mailbox, where the queue bounds never see them. Two
 * signals: the share of the loop's time it is busy (createUtilizationShedder: a growing share of requests is
 * refused; off unless set) and, as a hard stop, its delay (@fastify/under-pressure: every request is refused
 * while the loop lags past its bound).
 *
 * Only the gateway's own routes are shed, matched as fastify routed them (an encoded or absolute-form URL
 * reaches the same route and meets the same guard); CORS preflights never are. The utilization guard is a
 * hook of those routes, so it runs after the application's own hooks (CORS headers are on its refusals).
 * WebSocket upgrades bypass fastify's hooks: the gateway asks `refusesConnection` for each new connection;
 * the operations of a connection already open are not shed.
 */
export async function shedUnderPressure(
  app: FastifyInstance,
  options: PressureOptions,
): Promise<PressureGuard> {
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
  const ofGateway = (request: FastifyRequest) =>
    request.routeOptions.url === options.path && request.method !== 'OPTIONS'
  let shedder: UtilizationShedder | undefined
  if (options.maxEventLoopUtilization !== 0) {
    const maxUtilization = options.maxEventLoopUtilization
    // Checked now, so a bad bound fails createServer rather than its start.
    checkUtilizationBound(maxUtilization)
    // Measured from the start: a server that fails to build leaves no timer behind.
    app.addHook('onReady', (done) => {
      shedder = createUtilizationShedder({ maxUtilization })
      done()
    })
    app.addHook('onClose', (_instance, done) => {
      shedder?.close()
      done()
    })
    const shed: onRequestHookHandler = (request, reply, done) => {
      if (shedder?.refuses()) void refuse(reply)
      else done()
    }
    app.addHook('onRoute', (route) => {
      if (route.url !== options.path) return
      const own = route.onRequest
      route.onRequest = own === undefined ? [shed] : [...(Array.isArray(own) ? own : [own]), shed]
    })
  }
  const delayBound = options.maxEventLoopDelayMs > 0
  if (delayBound) {
    await app.register(underPressure, {
      maxEventLoopDelay: options.maxEventLoopDelayMs,
      // Short samples: shedding starts and stops within a tenth of a second of the loop's state changing.
      sampleInterval: 100,
      pressureHandler: (request, reply) => {
        if (ofGateway(request)) void refuse(reply)
      },
    })
  }
  return {
    refusesConnection() {
      const refused = shedder?.refuses() === true || (delayBound && app.isUnderPressure())
      if (refused) options.onShed()
      return refused
    },
  }
}
