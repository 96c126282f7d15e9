/**
 * The counters GetInfo and List report, measured as EventStoreDB measures them: items per second and items
 * since the previous statistics call (each call starts a new window), and, with `extraStatistics`, each
 * consumer's push-to-ack latency over its last 1,000 acks in whole milliseconds.
 */

/** Items counted since the previous `measure`, and their rate over the time since it. */
export class RateMeter {
  private total = 0
  private sinceLast = 0
  private measuredAt: number

  constructor(now: number) {
    this.measuredAt = now
  }

  get totalItems(): number {
    return this.total
  }

  count(items = 1): void {
    this.total += items
    this.sinceLast += items
  }

  /** The window since the previous call (items and items per second), and a new window from `now`. */
  measure(now: number): { countSinceLastMeasurement: number; averagePerSecond: number } {
    const seconds = (now - this.measuredAt) / 1000
    const measured = {
      countSinceLastMeasurement: this.sinceLast,
      averagePerSecond: seconds > 0 ? this.sinceLast / seconds : 0,
    }
    this.sinceLast = 0
    this.measuredAt = now
    return measured
  }
}

/** How many latencies a consumer's window keeps. */
export const LATENCY_WINDOW = 1_000

/** The measurement keys, in the order EventStoreDB lists them, each with the percentile it reads (0: mean). */
const MEASUREMENTS: readonly (readonly [string, number])[] = [
  ['Mean', 0],
  ['Median', 50],
  ['Fastest', -1],
  ['Quintile 1', 20],
  ['Quintile 2', 40],
  ['Quintile 3', 60],
  ['Quintile 4', 80],
  ['Quintile 5', 100],
  ['90%', 90],
  ['95%', 95],
  ['99%', 99],
  ['99.5%', 99.5],
  ['99.9%', 99.9],
  ['Highest', 100],
]

/** The last LATENCY_WINDOW push-to-ack times of one consumer, in whole milliseconds. */
export class LatencyWindow {
  private readonly samples: number[] = []
  private next = 0

  record(milliseconds: number): void {
    const sample = Math.max(0, Math.round(milliseconds))
    if (this.samples.length < LATENCY_WINDOW) this.samples.push(sample)
    else this.samples[this.next] = sample
    this.next = (this.next + 1) % LATENCY_WINDOW
  }

  /** Mean, median, fastest, quintiles, high percentiles and highest; empty until the first ack. */
  measurements(): { key: string; value: number }[] {
    if (this.samples.length === 0) return []
    const sorted = [...this.samples].sort((a, b) => a - b)
    const mean = Math.round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length)
    return MEASUREMENTS.map(([key, percentile]) => ({
      key,
      value: percentile === 0 ? mean : percentile < 0 ? sorted[0]! : nearestRank(sorted, percentile),
    }))
  }
}

// The smallest sample with at least `percentile` % of the samples at or below it.
function nearestRank(sorted: readonly number[], percentile: number): number {
  const rank = Math.ceil((percentile / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}
