/** The queueing delay createServer lets commands meet by default, in milliseconds. */
export const DEFAULT_LATENCY_TARGET_MS = 20
/** How long one measurement interval of the latency limit lasts, in milliseconds. */
export const LATENCY_INTERVAL_MS = 100
/** How many past light intervals the unloaded latency is the lowest of. */
export const LATENCY_BASE_INTERVALS = 300
/** The limit never falls below this many commands in flight: a trickle always passes, and measures. */
export const LATENCY_LIMIT_FLOOR = 16

export interface LatencyLimitOptions {
  /**
   * The queueing delay the replica lets commands meet, in milliseconds: the latency it defends is the lowest
   * one seen lately with few commands in flight (a command's own work, the store's round trip) plus this.
   */
  readonly targetMs: number
  /** Above this the limit stops growing; the host's own bound (maxQueued) still applies. */
  readonly ceiling: number
  /** A monotonic clock in milliseconds. */
  readonly now: () => number
}

/** The concurrency a host admits, adapted to the latency of the commands it answers. */
export interface LatencyLimit {
  /** Whether a new command may join the `inFlight` ones; false: refuse it now, before any work. */
  admits(inFlight: number): boolean
  /** Records a command answered, accepted at `acceptedAt` (a time of the same clock). */
  answered(acceptedAt: number, inFlight: number): void
  /** The commands in flight admitted now. */
  limit(): number
}

/**
 * A concurrency limit driven by latency, after CoDel's signal. The fastest command answered in an interval of
 * 100 ms took its own work plus whatever queue every command of that interval met. Its own work is estimated
 * as the lowest of those minima over the last 300 light intervals, those with never more commands in flight
 * than the floor (the base; 0 before the first). A minimum above base + target means a standing queue: the
 * limit is then set so that, by Little's law, the commands in flight would take base + target, the mean in
 * flight during the interval × (base + target) / minimum (never above the limit before, never below the
 * floor). In an interval within it the limit grows by a tenth: within a second or two it finds again what the
 * replica can take after a false alarm (one long garbage collection), while a faster growth would let a queue
 * of seconds build between two intervals. Measuring from the base, not from zero, keeps a store whose every
 * append is slow (a remote cluster, a disk whose flushes lag) from being held at the floor, where refusing
 * does not make it faster. Commands past the limit are refused at once, so above saturation the excess costs
 * a comparison and a fast answer, and the admitted ones keep their latency.
 */
export function createLatencyLimit(options: LatencyLimitOptions): LatencyLimit {
  const { targetMs, ceiling, now } = options
  const floor = Math.min(LATENCY_LIMIT_FLOOR, ceiling)
  let limit = ceiling
  let intervalStart = now()
  let fastest = Infinity
  // The commands in flight each time one was admitted or answered in this interval: their mean is what its
  // commands competed with (Little's law's L); their most, whether the interval was light.
  let inFlightSum = 0
  let samples = 0
  let peak = 0
  // The minima of the intervals before this one, a ring; Infinity where none was measured.
  const minima = new Array<number>(LATENCY_BASE_INTERVALS).fill(Infinity)
  let next = 0

  const roll = (at: number, inFlight: number) => {
    if (at - intervalStart < LATENCY_INTERVAL_MS) {
      inFlightSum += inFlight
      samples++
      peak = Math.max(peak, inFlight)
      return
    }
    // An interval with no answer says nothing about the queue (idle, or every command still in its first wait).
    if (fastest !== Infinity) {
      const lowest = Math.min(...minima)
      const base = lowest === Infinity ? 0 : lowest
      const meanInFlight = samples === 0 ? inFlight : inFlightSum / samples
      limit =
        fastest > base + targetMs
          ? Math.max(floor, Math.min(limit, Math.floor((meanInFlight * (base + targetMs)) / fastest)))
          : Math.min(ceiling, limit + Math.ceil(limit / 10))
      // A loaded interval's minimum holds its queue: it would pass the queue off as the commands' own work.
      if (peak <= LATENCY_LIMIT_FLOOR) {
        minima[next] = fastest
        next = (next + 1) % LATENCY_BASE_INTERVALS
      }
    }
    intervalStart = at
    fastest = Infinity
    inFlightSum = inFlight
    samples = 1
    peak = inFlight
  }

  return {
    admits(inFlight) {
      roll(now(), inFlight)
      return inFlight < limit
    },
    answered(acceptedAt, inFlight) {
      const at = now()
      fastest = Math.min(fastest, at - acceptedAt)
      roll(at, inFlight)
    },
    limit: () => limit,
  }
}
