import type { EventStore, RecordedEvent } from '../../event-store/event-store.ts'
import { StoreUnavailableError } from '../../errors.ts'
import { StreamFeedMember, type SharedDelivery } from './stream-feed-member.ts'
import { pause, retryDelay } from '../../retry.ts'
import { TRACEPARENT_KEY } from '../../tracing/traceparent.ts'

export interface SharedStreamFeedOptions<T> {
  readonly store: EventStore
  /** The event types the one store subscription asks for (an aggregate's events). */
  readonly eventTypes: readonly string[]
  /** Builds a client frame; called at most once per live event, however many clients watch its stream. */
  readonly toFrame: (event: RecordedEvent) => T
  /** Resubscriptions in a row (with no message between) before the members are failed. Default 8. */
  readonly maxRetries?: number
  /** The first pause before resubscribing, doubled on each failure up to 2 s. Default 50 ms. */
  readonly retryDelayMs?: number
}

export interface SharedStreamFeed<T> {
  /**
   * Registers a client on `streamName`. Once this resolves, every event of the stream that the client's next
   * read of the stream does not return is delivered to the member, so read the stream after joining. The
   * member leaves when `signal` aborts.
   */
  join(
    streamName: string,
    options: { readonly signal: AbortSignal; readonly maxPending: number },
  ): Promise<StreamFeedMember<T>>
  /** Store subscriptions open now: 0 with no member, else 1 (for tests and metrics). */
  openSubscriptions(): number
}

interface Run<T> {
  readonly abort: AbortController
  readonly listeners: Map<string, Set<StreamFeedMember<T>>>
  members: number
  /** The position of the last event the store subscription delivered (the head it started from, at first). */
  delivered: bigint
  readonly ready: Promise<void>
}

/**
 * One `$all` subscription, filtered to some event types, shared by every client that watches a stream of
 * them: each event goes to the members registered on its stream. It is opened by the first member, closed
 * when the last leaves, and resubscribed from the last delivered position when the store drops it.
 *
 * No gap between a member's read and its live events: the subscription delivers positions in order, so
 * every event past `delivered` at the moment a member joins reaches it, and every event up to `delivered`
 * was committed before the join, hence before the member's read of its stream begins.
 */
export function createSharedStreamFeed<T>(options: SharedStreamFeedOptions<T>): SharedStreamFeed<T> {
  const maxRetries = options.maxRetries ?? 8
  const retryDelayMs = options.retryDelayMs ?? 50
  let current: Run<T> | undefined
  let open = 0

  const start = (): Run<T> => {
    const run: Run<T> = {
      abort: new AbortController(),
      listeners: new Map(),
      members: 0,
      delivered: -1n,
      // Positions up to the head are committed before any member's read, so the subscription starts there.
      ready: options.store.headPosition().then((head) => {
        run.delivered = head > 0n ? head : -1n
      }),
    }
    run.ready.then(
      () => void follow(run),
      (error: unknown) => stop(run, error),
    )
    return run
  }

  const follow = async (run: Run<T>): Promise<void> => {
    const { signal } = run.abort
    for (let failures = 0; !signal.aborted;) {
      try {
        open++
        const from = run.delivered < 0n ? 'start' : run.delivered
        const eventTypes = options.eventTypes
        for await (const message of options.store.subscribeToAll({
          fromPosition: from,
          eventTypes,
          signal,
        })) {
          failures = 0
          if (message.kind === 'event') dispatch(run, message.event)
        }
        if (signal.aborted) return
        throw new StoreUnavailableError('The event store ended the subscription')
      } catch (error) {
        if (signal.aborted) return
        if (++failures > maxRetries) return stop(run, error)
      } finally {
        open--
      }
      await pause(retryDelay({ initialDelayMs: retryDelayMs, maxDelayMs: 2_000 }, failures), signal)
    }
  }

  const dispatch = (run: Run<T>, event: RecordedEvent): void => {
    if (event.position <= run.delivered) return
    run.delivered = event.position
    const members = run.listeners.get(event.streamName)
    if (!members) return
    const traceparent = event.metadata[TRACEPARENT_KEY]
    const delivery: SharedDelivery<T> = {
      position: event.position,
      traceparent: typeof traceparent === 'string' ? traceparent : undefined,
      frame: once(() => options.toFrame(event)),
    }
    for (const member of members) member.push(delivery)
  }

  const stop = (run: Run<T>, error: unknown): void => {
    if (current === run) current = undefined
    run.abort.abort()
    for (const members of run.listeners.values()) for (const member of members) member.fail(error)
  }

  return {
    async join(streamName, { signal, maxPending }) {
      const run = (current ??= start())
      const member = new StreamFeedMember<T>({
        maxPending,
        onLeave: (leaving) => {
          const members = run.listeners.get(streamName)
          members?.delete(leaving)
          if (members?.size === 0) run.listeners.delete(streamName)
          if (--run.members > 0) return
          run.abort.abort()
          if (current === run) current = undefined
        },
      })
      run.members++
      let members = run.listeners.get(streamName)
      if (!members) run.listeners.set(streamName, (members = new Set()))
      members.add(member)
      if (signal.aborted) member.leave()
      else signal.addEventListener('abort', () => member.leave(), { once: true })
      try {
        await run.ready
      } catch (error) {
        member.leave()
        throw error
      }
      return member
    },
    openSubscriptions: () => open,
  }
}

function once<T>(build: () => T): () => T {
  let built: { value: T } | { error: unknown } | undefined
  return () => {
    if (!built) {
      try {
        built = { value: build() }
      } catch (error) {
        built = { error }
      }
    }
    if ('error' in built) throw built.error
    return built.value
  }
}
