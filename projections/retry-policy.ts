import type { RetryPolicy } from '../framework/internal.ts'

export type { RetryPolicy }

/** The read side's retry defaults: a handler is tried a few times; the store is waited out without end. */

export const defaultHandlerRetry: RetryPolicy = { attempts: 3, initialDelayMs: 10, maxDelayMs: 1_000 }
export const defaultResubscribeRetry: RetryPolicy = {
  attempts: Infinity,
  initialDelayMs: 50,
  maxDelayMs: 5_000,
}
