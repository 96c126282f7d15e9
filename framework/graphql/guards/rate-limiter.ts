import { LRUCache } from 'lru-cache'
import { AnnalsError } from '../../errors.ts'

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
  /**
   * Takes `count` tokens (default one; at most `burst`, so a batch larger than the bucket can still pass when
   * it is full) for the client, or takes none and throws RATE_LIMITED with `retryAfterMs`.
   */
  take(client: string, count?: number): void
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
  const buckets = new LRUCache<string, { tokens: number; at: number }>({ max: maxClients })
  return {
    take(client, count = 1) {
      const cost = Math.min(Math.max(count, 1), options.burst)
      const time = now()
      const bucket = buckets.get(client) ?? { tokens: options.burst, at: time }
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((time - bucket.at) / 1000) * options.perSecond)
      bucket.at = time
      buckets.set(client, bucket)
      if (bucket.tokens < cost) {
        const waitMs = Math.ceil(((cost - bucket.tokens) / options.perSecond) * 1000)
        throw new AnnalsError('RATE_LIMITED', `Too many requests; retry in ${waitMs} ms`, {
          details: { retryAfterMs: waitMs },
        })
      }
      bucket.tokens -= cost
    },
  }
}
