/** One event as a shared feed hands it to a member: its position, and its frame built once for all. */
export interface SharedDelivery<T> {
  readonly position: bigint
  /** The W3C traceparent stored with the event, for the span of each client's frame. */
  readonly traceparent: string | undefined
  /** Builds the frame on first call and returns the same one to every member (or throws the same error). */
  readonly frame: () => T
}

/**
 * One client of a shared stream feed. While the client reads the stream's history, the live events of its
 * stream wait here (at most `maxPending`; past that they are dropped and the client reads the stream again);
 * once live, they flow through `frames` as the shared subscription delivers them.
 */
export class StreamFeedMember<T> {
  readonly #items: SharedDelivery<T>[] = []
  readonly #maxPending: number
  readonly #onLeave: (member: StreamFeedMember<T>) => void
  #live = false
  #overflowed = false
  #left = false
  #failure: { error: unknown } | undefined
  #wake: (() => void) | undefined

  constructor(options: { maxPending: number; onLeave: (member: StreamFeedMember<T>) => void }) {
    this.#maxPending = options.maxPending
    this.#onLeave = options.onLeave
  }

  /** Called by the shared feed, in position order. */
  push(delivery: SharedDelivery<T>): void {
    if (this.#left || this.#overflowed) return
    if (!this.#live && this.#items.length >= this.#maxPending) {
      // Dropped, not lost: whatever is dropped now is in the log before the client's next read begins.
      this.#overflowed = true
      this.#items.length = 0
      return
    }
    this.#items.push(delivery)
    this.#wakeUp()
  }

  /**
   * Switches to live once the history is read, or returns false (once) when events were dropped while it was
   * read: the caller reads the stream again from where it stopped, and then asks again.
   */
  goLive(): boolean {
    if (this.#overflowed) {
      this.#overflowed = false
      return false
    }
    this.#live = true
    return true
  }

  /** The live frames after `after`, in order, without duplicates; throws when the shared feed failed for good. */
  async *frames(
    after: bigint,
  ): AsyncGenerator<{ position: bigint; frame: T; traceparent: string | undefined }> {
    let last = after
    for (;;) {
      const item = this.#items.shift()
      if (item) {
        if (item.position <= last) continue
        last = item.position
        yield { position: item.position, frame: item.frame(), traceparent: item.traceparent }
        continue
      }
      if (this.#failure) throw this.#failure.error
      if (this.#left) return
      await new Promise<void>((resolve) => (this.#wake = resolve))
    }
  }

  /** Ends `frames` with this error once the frames before it are taken. */
  fail(error: unknown): void {
    this.#failure ??= { error }
    this.#wakeUp()
  }

  /** Stops listening; `frames` ends. Idempotent. */
  leave(): void {
    if (this.#left) return
    this.#left = true
    this.#items.length = 0
    this.#onLeave(this)
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
