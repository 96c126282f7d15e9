/** One item of a feed, and whether it is live (a change as it happens) or history (the state so far). */
export interface FeedItem<T> {
  readonly value: T
  readonly live: boolean
}

export interface BoundedFeedOptions {
  /** Live items that may wait for the consumer; one more and the feed overflows. */
  readonly maxBuffered: number
  /** Called once when the consumer falls that far behind; the feed then ends. */
  readonly onOverflow: () => void
}

/**
 * Reads a feed ahead of a slow consumer into a bounded buffer. History is read only as fast as the consumer
 * takes it (it is already stored); live items are pulled as they come, so a consumer that cannot keep up
 * overflows the buffer and is cut off, rather than the buffer (or the source's) growing without bound.
 * `return()` (the client unsubscribed or went away) aborts the source through the signal.
 */
export function boundedFeed<T>(
  open: (signal: AbortSignal) => AsyncIterable<FeedItem<T>>,
  options: BoundedFeedOptions,
): AsyncGenerator<T, undefined> {
  const abort = new AbortController()
  const queue: T[] = []
  let finished = false
  let failure: { error: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined

  const wake = () => {
    wakeConsumer?.()
    wakeConsumer = undefined
  }
  const finish = () => {
    finished = true
    abort.abort()
    queue.length = 0
    wakeProducer?.()
    wake()
  }

  void (async () => {
    try {
      for await (const item of open(abort.signal)) {
        if (finished) return
        if (item.live && queue.length >= options.maxBuffered) {
          finish()
          options.onOverflow()
          return
        }
        queue.push(item.value)
        wake()
        while (!item.live && queue.length >= options.maxBuffered && !finished) {
          await new Promise<void>((resolve) => (wakeProducer = resolve))
        }
      }
    } catch (error) {
      if (!finished) failure = { error }
    }
    finished = true
    wake()
  })()

  const generator: AsyncGenerator<T, undefined> = {
    async next() {
      for (;;) {
        if (queue.length > 0) {
          const value = queue.shift() as T
          wakeProducer?.()
          wakeProducer = undefined
          return { done: false, value }
        }
        if (failure) {
          const { error } = failure
          failure = undefined
          finish()
          throw error
        }
        if (finished) return { done: true, value: undefined }
        await new Promise<void>((resolve) => (wakeConsumer = resolve))
      }
    },
    return() {
      finish()
      return Promise.resolve({ done: true, value: undefined })
    },
    throw(error: unknown) {
      finish()
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    },
    [Symbol.asyncIterator]() {
      return generator
    },
  }
  return generator
}
