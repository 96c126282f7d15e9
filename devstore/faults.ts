/**
 * Fault injection for tests that need the store to misbehave: dropped subscriptions, failing appends, slow
 * replies and restarts. The gRPC layer reads the FaultState on every call; createDevStore exposes it as
 * DevStoreFaults.
 */

export interface DevStoreFaults {
  /** Ends every open subscription (catch-up and persistent) with UNAVAILABLE; the client resubscribes. */
  dropAllSubscriptions(): void
  /**
   * The next `count` append requests fail as a server not ready would, writing nothing: an Append call ends
   * with UNAVAILABLE (the client's UnavailableError); a BatchAppend request is answered on its own, the call
   * and its other requests carrying on, with status UNAVAILABLE and a Timeout detail (DeadlineExceededError).
   */
  failNextAppends(count: number): void
  /** Every call waits `ms` before it is answered; 0 turns the delay off. */
  delayReplies(ms: number): void
  /** Resolves when the server next holds a call back under delayReplies: the call has arrived and is in flight. */
  nextHeldReply(): Promise<void>
  /**
   * Every append, delete and tombstone commits `ms` later than it would (it is written at once, and its
   * answer waits): past the commit timeout it is answered as timed out, as a slow EventStoreDB answers it.
   */
  delayCommits(ms: number): void
  /** Stops the server and the engine, then starts them again on the same data and the same port. */
  restart(): Promise<void>
}

/** The switches the gRPC layer consults; one per devstore, surviving restarts. */
export class FaultState {
  private appendFailures = 0
  private delayMs = 0
  private heldWaiters: (() => void)[] = []
  private commitDelay = 0

  failNextAppends(count: number): void {
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`failNextAppends expects a count >= 0, got ${count}`)
    this.appendFailures = count
  }

  delayReplies(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`delayReplies expects milliseconds >= 0, got ${ms}`)
    this.delayMs = ms
  }

  delayCommits(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`delayCommits expects milliseconds >= 0, got ${ms}`)
    this.commitDelay = ms
  }

  get commitDelayMs(): number {
    return this.commitDelay
  }

  /** True when this append must fail; consumes one of the failures asked for. */
  takeAppendFailure(): boolean {
    if (this.appendFailures === 0) return false
    this.appendFailures--
    return true
  }

  get replyDelayMs(): number {
    return this.delayMs
  }

  /** Called by the gRPC layer each time it holds a call back by replyDelayMs. */
  replyHeld(): void {
    for (const wake of this.heldWaiters.splice(0)) wake()
  }

  nextHeldReply(): Promise<void> {
    return new Promise((resolve) => this.heldWaiters.push(resolve))
  }
}
