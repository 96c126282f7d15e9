import { AnnalsError } from '../errors.ts'

export interface RateLimiterOptions {
  /** Requests a client may make at once. */
  readonly burst: number
  /** Requests a client regains per second. */
  readonly perSecond: number
  /** Clients remembered; the least recently seen are forgotten first (a forgotten client starts full). */
  readonly maxClients?: number
  readonly now?: () => number
}

export interface RateLimiter {
  /** Takes a token for the client or throws RATE_LIMITED. */
  take(client: string): void
}

/**
 * A token bucket per client, in bounded memory.
 *
 * @example
 * const limiter = createRateLimiter({ burst: 20, perSecond: 10 })
 * limiter.take(request.ip)
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  const now = options.now ?? (() => performance.now())
  const maxClients = options.maxClients ?? 100_000
  const buckets = new Map<string, { tokens: number; at: number }>()
  return {
    take(client) {
      const time = now()
      const bucket = buckets.get(client) ?? { tokens: options.burst, at: time }
      buckets.delete(client)
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((time - bucket.at) / 1000) * options.perSecond)
      bucket.at = time
      buckets.set(client, bucket)
      if (buckets.size > maxClients) buckets.delete(buckets.keys().next().value as string)
      if (bucket.tokens < 1) {
        const waitMs = Math.ceil(((1 - bucket.tokens) / options.perSecond) * 1000)
        throw new AnnalsError('RATE_LIMITED', `Too many requests; retry in ${waitMs} ms`, {
          details: { retryAfterMs: waitMs },
        })
      }
      bucket.tokens -= 1
    },
  }
}
