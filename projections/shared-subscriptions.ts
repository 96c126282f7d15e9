import type { EventStore, SubscriptionMessage } from '../framework/index.ts'

type SubscribeToAllOptions = NonNullable<Parameters<EventStore['subscribeToAll']>[0]>

export interface SharedSubscriptionOptions {
  /**
   * The messages a shared subscription keeps, so a consumer just behind it can join it: at least this many
   * (up to twice as many between trims). Default 4,096.
   */
  readonly recentMessages?: number
  /** The shared subscription stops reading while a consumer has more than this many messages unread. Default 4,096. */
  readonly highWater?: number
  /**
   * A consumer that holds the shared subscription back (over `highWater`) and reads nothing for this long is
   * dropped with an error; it subscribes again on its own. Default 10,000 ms.
   */
  readonly stallMs?: number
}

/** One consumer of a shared subscription: what it has been given, and what it has not read yet. */
interface Follower {
  /** The position of the last message queued for it (or where it started): it is given nothing at or before it. */
  seen: bigint
  readonly queue: SubscriptionMessage[]
  head: number
  lastReadAt: number
  wake: (() => void) | undefined
  failure: unknown
  ended: boolean
}

/** One subscription to the store, followed by every consumer of the same event types. */
interface Tail {
  readonly key: string
  readonly followers: Set<Follower>
  /** The messages after `floor`, in order: a consumer at or after `floor` joins by reading them first. */
  recent: { readonly position: bigint; readonly message: SubscriptionMessage }[]
  floor: bigint
  /** Whether the store has said it reached the head (a consumer that joins is told so too). */
  caughtUp: boolean
  readonly abort: AbortController
  /** Wakes the tail held back by a consumer, when that consumer reads or leaves. */
  resume: (() => void) | undefined
}

const START = -1n

/** Where in `$all` a message stands (an event, or a checkpoint of a filtered subscription). */
function positionOf(message: Exclude<SubscriptionMessage, { kind: 'caughtUp' }>): bigint {
  return message.kind === 'event' ? message.event.position : message.position
}

/**
 * The store, with subscriptions to `$all` of the same event types sharing one subscription to it: the
 * partitions of a workflow or a reactor on one replica each follow the whole log of their event types and keep
 * their own events, and each would otherwise have every event sent, decoded and parsed for it.
 *
 * A consumer from a position among the shared subscription's recent messages is given the rest of them and
 * then follows it; one further behind reads on a subscription of its own until it is that close, then joins.
 * Each consumer is given only messages after the last one it was given, in the store's order, and each
 * `caughtUp` of the store (at once, when it joins a subscription that has reached the head). The shared
 * subscription reads at the pace of its slowest consumer: it stops while one has more than `highWater`
 * messages unread. One that holds it back and reads nothing for `stallMs` is dropped with an error (it
 * subscribes again, as after any failure, and catches up on its own), so a stuck consumer holds the others for
 * that long at most. A failure of the shared subscription ends every consumer's with it; the last consumer to
 * leave ends it.
 */
export function shareSubscriptions(store: EventStore, options: SharedSubscriptionOptions = {}): EventStore {
  const recentMessages = Math.max(1, options.recentMessages ?? 4_096)
  const highWater = Math.max(1, options.highWater ?? 4_096)
  const stallMs = options.stallMs ?? 10_000
  const tails = new Map<string, Tail>()

  const unread = (follower: Follower) => follower.queue.length - follower.head
  /** Whether a consumer at `from` can join `tail`: every message after `from` is still among its recent ones. */
  const reaches = (tail: Tail, from: bigint) => from >= tail.floor

  function startTail(key: string, from: bigint, eventTypes: readonly string[] | undefined): Tail {
    const tail: Tail = {
      key,
      followers: new Set(),
      recent: [],
      floor: from,
      caughtUp: false,
      abort: new AbortController(),
      resume: undefined,
    }
    tails.set(key, tail)
    void (async () => {
      let failure: unknown
      try {
        const messages = store.subscribeToAll({
          fromPosition: from === START ? 'start' : from,
          ...(eventTypes === undefined ? {} : { eventTypes }),
          signal: tail.abort.signal,
        })
        for await (const message of messages) {
          if (message.kind === 'caughtUp') {
            tail.caughtUp = true
            for (const follower of tail.followers) give(follower, message)
          } else {
            const position = positionOf(message)
            tail.recent.push({ position, message })
            if (tail.recent.length >= 2 * recentMessages) {
              tail.floor = tail.recent[tail.recent.length - recentMessages - 1]!.position
              tail.recent = tail.recent.slice(-recentMessages)
            }
            for (const follower of tail.followers) {
              if (position <= follower.seen) continue
              follower.seen = position
              give(follower, message)
            }
          }
          if (holdsBack(tail, highWater)) await keepPace(tail)
        }
      } catch (error) {
        failure = error
      } finally {
        if (tails.get(key) === tail) tails.delete(key)
        for (const follower of tail.followers) {
          if (failure === undefined) follower.ended = true
          else follower.failure = failure
          follower.wake?.()
        }
        tail.followers.clear()
      }
    })()
    return tail
  }

  function give(follower: Follower, message: SubscriptionMessage) {
    follower.queue.push(message)
    follower.wake?.()
  }

  function holdsBack(tail: Tail, limit: number): boolean {
    for (const follower of tail.followers) if (unread(follower) > limit) return true
    return false
  }

  /**
   * Waits until every consumer is down to half of `highWater` unread (so the shared subscription does not stop
   * at every message of a slow consumer); drops one that reads nothing for `stallMs` meanwhile.
   */
  async function keepPace(tail: Tail) {
    for (;;) {
      const now = Date.now()
      for (const follower of tail.followers) {
        if (unread(follower) > highWater / 2 && now - follower.lastReadAt >= stallMs) drop(tail, follower)
      }
      if (!holdsBack(tail, highWater / 2) || tail.abort.signal.aborted) return
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, stallMs)
        tail.resume = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      tail.resume = undefined
    }
  }

  function drop(tail: Tail, follower: Follower) {
    // What it has not read goes with it: it subscribes again from what it handled.
    follower.queue.length = 0
    follower.head = 0
    follower.failure = new Error(`a consumer read nothing of a shared subscription for ${stallMs} ms`)
    follower.wake?.()
    leave(tail, follower)
  }

  /** Joins the shared subscription at `from`: its recent messages after `from`, then what comes. */
  function join(tail: Tail, from: bigint, toldCaughtUp: boolean): Follower {
    const follower: Follower = {
      seen: from,
      queue: [],
      head: 0,
      lastReadAt: Date.now(),
      wake: undefined,
      failure: undefined,
      ended: false,
    }
    for (const { position, message } of tail.recent) {
      if (position <= from) continue
      follower.queue.push(message)
      follower.seen = position
    }
    if (tail.caughtUp && !toldCaughtUp) follower.queue.push({ kind: 'caughtUp' })
    tail.followers.add(follower)
    return follower
  }

  function leave(tail: Tail, follower: Follower) {
    if (!tail.followers.delete(follower)) return
    tail.resume?.()
    if (tail.followers.size > 0) return
    if (tails.get(tail.key) === tail) tails.delete(tail.key)
    tail.abort.abort()
  }

  async function* follow(
    tail: Tail,
    follower: Follower,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<SubscriptionMessage> {
    const stop = () => {
      follower.ended = true
      follower.wake?.()
    }
    signal?.addEventListener('abort', stop, { once: true })
    try {
      for (;;) {
        if (signal?.aborted) return
        if (follower.head < follower.queue.length) {
          const message = follower.queue[follower.head++]!
          if (follower.head >= 1024 && follower.head * 2 >= follower.queue.length) {
            follower.queue.splice(0, follower.head)
            follower.head = 0
          }
          follower.lastReadAt = Date.now()
          if (tail.resume !== undefined && unread(follower) <= highWater / 2) tail.resume()
          yield message
          continue
        }
        if (follower.failure !== undefined) throw follower.failure
        if (follower.ended) return
        await new Promise<void>((resolve) => (follower.wake = resolve))
        follower.wake = undefined
      }
    } finally {
      signal?.removeEventListener('abort', stop)
      leave(tail, follower)
    }
  }

  async function* subscribeToAll(
    subscribeOptions: SubscribeToAllOptions = {},
  ): AsyncGenerator<SubscriptionMessage> {
    const { signal, eventTypes } = subscribeOptions
    if (signal?.aborted) return
    const key = eventTypes === undefined ? '*' : JSON.stringify([...eventTypes].sort())
    const start = subscribeOptions.fromPosition ?? 'start'
    let from = start === 'start' ? START : start
    let toldCaughtUp = false
    for (;;) {
      const tail = tails.get(key)
      // The check and the join happen in one turn: the recent messages cannot move past `from` between them.
      if (tail === undefined || reaches(tail, from)) {
        const joined = tail ?? startTail(key, from, eventTypes)
        yield* follow(joined, join(joined, from, toldCaughtUp), signal)
        return
      }
      // Too far behind: catch up on a subscription of its own, until the shared one's recent messages reach it.
      let nearEnough = false
      const own = store.subscribeToAll({ ...subscribeOptions, fromPosition: from === START ? 'start' : from })
      for await (const message of own) {
        yield message
        if (message.kind === 'caughtUp') toldCaughtUp = true
        else from = positionOf(message)
        const shared = tails.get(key)
        if (shared === undefined || reaches(shared, from)) {
          nearEnough = true
          break
        }
      }
      if (!nearEnough) return
    }
  }

  // Everything else is the store's own, whether it holds its methods itself or inherits them.
  return Object.assign(Object.create(store) as EventStore, { subscribeToAll })
}
