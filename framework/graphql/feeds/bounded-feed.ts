/** One item of a feed, and whether it is live (a change as it happens) or history (the state so far). */
export interface FeedItem<T> {
  readonly value: T
  readonly live: boolean
  /** The W3C traceparent stored with the event behind a live item, for the span of its frame. */
  readonly traceparent?: string | undefined
}

/** Whatever a consumer's handling of an item opened (a span): ended when the consumer asks for the next. */
export interface TakenItem {
  end(): void
}

export interface BoundedFeedOptions<T> {
  /** Live items that may wait for the consumer; one more and the feed overflows. */
  readonly maxBuffered: number
  /** Called once when the consumer falls that far behind; the feed then ends. */
  readonly onOverflow: () => void
  /** Called as the consumer takes an item; what it returns is ended when the consumer comes back for more. */
  readonly onTake?: ((item: FeedItem<T>) => TakenItem | undefined) | undefined
}

/**
 * Reads a feed ahead of a slow consumer into a bounded buffer. History is read only as fast as the consumer
 * takes it (it is already stored); live items are pulled as they come, so a consumer that cannot keep up
 * overflows the buffer and is cut off, rather than the buffer (or the source's) growing without bound.
 * `return()` (the client unsubscribed or went away) aborts the source through the signal.
 */
export function boundedFeed<T>(
  open: (signal: AbortSignal) => AsyncIterable<FeedItem<T>>,
  options: BoundedFeedOptions<T>,
): AsyncGenerator<T, undefined> {
  const abort = new AbortController()
  const queue: FeedItem<T>[] = []
  let taken: TakenItem | undefined
  let finished = false
  let failure: { error: unknown } | undefined
  let wakeConsumer: (() => void) | undefined
  let wakeProducer: (() => void) | undefined

  const wake = () => {
    wakeConsumer?.()
    wakeConsumer = undefined
  }
  const endTaken = () => {
    taken?.end()
    taken = undefined
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
        queue.push(item)
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
      // The consumer is back: it has done with the item it took last (executed and sent it).
      endTaken()
      for (;;) {
        if (queue.length > 0) {
          const item = queue.shift()!
          wakeProducer?.()
          wakeProducer = undefined
          if (options.onTake !== undefined) taken = options.onTake(item)
          return { done: false, value: item.value }
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
      endTaken()
      finish()
      return Promise.resolve({ done: true, value: undefined })
    },
    throw(error: unknown) {
      endTaken()
      finish()
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    },
    [Symbol.asyncIterator]() {
      return generator
    },
  }
  return generator
}
