import type { EventStore, SubscriptionMessage } from '../framework/index.ts'

type SubscribeToAllOptions = NonNullable<Parameters<EventStore['subscribeToAll']>[0]>

export interface SharedSubscriptionOptions {
  /** Messages a shared subscription keeps, so a subscriber just behind it can join it. Default 4,096. */
  readonly recentMessages?: number
  /** Messages a subscriber may leave unread before it is dropped with an error. Default 16,384. */
  readonly maxUnread?: number
}

/** One consumer of a shared subscription: what it has been given, and what it has not read yet. */
interface Follower {
  /** The position of the last message it was given (or its start); it is given nothing at or before it. */
  seen: bigint
  caughtUp: boolean
  readonly queue: SubscriptionMessage[]
  head: number
  wake: (() => void) | undefined
  failure: unknown
  ended: boolean
}

/** One subscription to the store, followed by every consumer of the same event types. */
interface Tail {
  readonly followers: Set<Follower>
  /** The messages after `floor`, in order: a consumer at or after `floor` joins by reading them first. */
  recent: { readonly position: bigint; readonly message: SubscriptionMessage }[]
  floor: bigint
  caughtUp: boolean
  readonly abort: AbortController
}

const START = -1n

/**
 * The store, with subscriptions to `$all` of the same event types sharing one subscription to it: the
 * partitions of a workflow on one replica each follow the whole log of its event types and keep their own
 * events, and each would otherwise have every event sent, decoded and parsed for it.
 *
 * A consumer from a position the shared subscription has passed by at most `recentMessages` is given those
 * messages again and then follows it live; one further behind reads on a subscription of its own until it is
 * that close, then joins. Each consumer is given only messages after the last one it was given, in the
 * store's order, and `caughtUp` once the shared subscription has reached the head. One that leaves
 * `maxUnread` messages unread is dropped with an error (it subscribes again, as after any failure), so a
 * stuck consumer holds neither the others nor unbounded memory. A failure of the shared subscription ends
 * every consumer's with it; the last consumer to leave ends it.
 */
export function shareSubscriptions(store: EventStore, options: SharedSubscriptionOptions = {}): EventStore {
  const recentMessages = options.recentMessages ?? 4_096
  const maxUnread = options.maxUnread ?? 16_384
  const tails = new Map<string, Tail>()

  function startTail(key: string, from: bigint, eventTypes: readonly string[] | undefined): Tail {
    const tail: Tail = {
      followers: new Set(),
      recent: [],
      floor: from,
      caughtUp: false,
      abort: new AbortController(),
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
            for (const follower of tail.followers) {
              if (follower.caughtUp) continue
              follower.caughtUp = true
              give(tail, follower, message)
            }
            continue
          }
          const position = message.kind === 'event' ? message.event.position : message.position
          tail.recent.push({ position, message })
          if (tail.recent.length >= 2 * recentMessages) {
            tail.floor = tail.recent[tail.recent.length - recentMessages - 1]!.position
            tail.recent = tail.recent.slice(-recentMessages)
          }
          for (const follower of tail.followers) {
            if (position <= follower.seen) continue
            follower.seen = position
            give(tail, follower, message)
          }
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

  function give(tail: Tail, follower: Follower, message: SubscriptionMessage) {
    follower.queue.push(message)
    if (follower.queue.length - follower.head > maxUnread) {
      // What it has not read is dropped with it: it subscribes again from what it handled.
      tail.followers.delete(follower)
      follower.queue.length = 0
      follower.head = 0
      follower.failure = new Error(`a consumer left ${maxUnread} messages of a shared subscription unread`)
    }
    follower.wake?.()
  }

  /** Joins the shared subscription at `from`: the recent messages after it, then what comes. */
  function join(tail: Tail, from: bigint, caughtUp: boolean): Follower {
    const follower: Follower = {
      seen: from,
      caughtUp,
      queue: [],
      head: 0,
      wake: undefined,
      failure: undefined,
      ended: false,
    }
    for (const { position, message } of tail.recent) {
      if (position <= from) continue
      follower.queue.push(message)
      follower.seen = position
    }
    if (tail.caughtUp && !caughtUp) {
      follower.caughtUp = true
      follower.queue.push({ kind: 'caughtUp' })
    }
    tail.followers.add(follower)
    return follower
  }

  function leave(key: string, tail: Tail, follower: Follower) {
    tail.followers.delete(follower)
    if (tail.followers.size > 0) return
    if (tails.get(key) === tail) tails.delete(key)
    tail.abort.abort()
  }

  async function* follow(
    key: string,
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
      leave(key, tail, follower)
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
    let caughtUp = false
    for (;;) {
      const tail = tails.get(key)
      // Joining and the check that the recent messages reach back to `from` happen in one turn.
      if (tail === undefined || from >= tail.floor) {
        const joined = tail ?? startTail(key, from, eventTypes)
        yield* follow(key, joined, join(joined, from, caughtUp), signal)
        return
      }
      // Too far behind: catch up on a subscription of its own, until the shared one's recent messages reach it.
      let close = false
      const own = store.subscribeToAll({ ...subscribeOptions, fromPosition: from === START ? 'start' : from })
      for await (const message of own) {
        yield message
        if (message.kind === 'caughtUp') caughtUp = true
        else from = message.kind === 'event' ? message.event.position : message.position
        const shared = tails.get(key)
        if (shared === undefined || from >= shared.floor) {
          close = true
          break
        }
      }
      if (!close) return
    }
  }

  // Everything else is the store's own, whether it holds its methods itself or inherits them.
  return Object.assign(Object.create(store) as EventStore, { subscribeToAll })
}
