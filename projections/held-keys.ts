import type { RecordedEvent } from '../framework/index.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import type { HeldKey } from './read-models/read-model-store.ts'
import { retryDelay, type RetryPolicy } from '../framework/internal.ts'

/** An event a projection could not fold after its retries; its key is held back until it is settled. */
export interface DeadLetter {
  readonly id: string
  readonly projection: string
  readonly key: string
  readonly eventId: string
  readonly eventType: string
  readonly streamName: string
  readonly position: bigint
  readonly attempts: number
  readonly error: string
  readonly failedAt: Date
  /** How many later events of the key wait behind this one. */
  readonly heldBehind: number
}

export interface HeldKeysOptions<TRow> {
  readonly definition: ProjectionDefinition<TRow>
  readonly policy: RetryPolicy
  /** Runs the handler and writes its row into the batch open now; returns the error instead of throwing. */
  readonly write: (routed: RoutedEvent<TRow>, position: bigint) => unknown
  /**
   * Runs `drain` when a retry is due, in a batch of its own with the rows of `keys()` loaded, and commits
   * what it folded: held events are folded outside the flow of the log.
   */
  readonly schedule: (keys: () => readonly string[], drain: () => void) => void
  /** A position before a newly held event to read the log from again after a restart. */
  after(): bigint
}

/** The keys whose events wait behind a failing one (retrying, or a dead letter), in order per key. */
export interface HeldKeys<TRow> {
  /** How many events wait (not yet folded). */
  readonly events: number
  /** The position of the oldest held event as of the last checkpoint or hold, while any is held. */
  readonly oldest: bigint | undefined
  /** Whether the held keys changed since the last checkpoint; set it to have the next commit record them. */
  changed: boolean
  readonly has: (key: string) => boolean
  /** The position of the key's oldest held event; undefined when the key is not held. */
  firstOf(key: string): bigint | undefined
  /** The held keys as a checkpoint records them; recomputes `oldest` and clears `changed`. */
  checkpoint(): HeldKey[]
  /** Holds an event that cannot be routed: it goes to the dead letters unless it already waits behind one. */
  holdUnroutable(key: string, event: RecordedEvent, error: unknown): void
  /** Queues an event behind its key when the key is held; false when it is not. */
  queueBehind(event: RecordedEvent, routed: RoutedEvent<TRow>): boolean
  /** Holds the key of an event whose handler failed and schedules a retry. */
  holdFailed(event: RecordedEvent, routed: RoutedEvent<TRow>, error: unknown): void
  deadLetters(): readonly DeadLetter[]
  /** The key a dead letter holds back; undefined for an unknown id. */
  keyOfDeadLetter(id: string): string | undefined
  /** The row keys the held events of `key` write: the rows a drain of it must have loaded. */
  rowKeysOf(key: string): string[]
  /** Tries a dead letter's event again (its rows loaded); true when it went in and its key was released. */
  retry(id: string): boolean
  /** Drops a dead letter's event for good and folds the events held behind it (their rows loaded). */
  discard(id: string): boolean
  clear(): void
  stop(): void
}

interface HeldItem<TRow> {
  readonly event: RecordedEvent
  routed: RoutedEvent<TRow> | undefined
}

interface HeldQueue<TRow> {
  readonly items: HeldItem<TRow>[]
  /** A position before the first item to read the log from again after a restart. */
  readonly after: bigint
  attempts: number
  timer: NodeJS.Timeout | undefined
  dead: DeadLetter | undefined
}

/**
 * Creates the held keys of a projection engine. A handler that throws is retried with back-off; meanwhile,
 * and after it lands in the dead letters, later events for the same key wait behind it so that a row never
 * skips an event, while other keys go on.
 */
export function createHeldKeys<TRow>(options: HeldKeysOptions<TRow>): HeldKeys<TRow> {
  const { definition, policy, write } = options
  const held = new Map<string, HeldQueue<TRow>>()
  let events = 0
  let changed = false
  let oldest: bigint | undefined
  let stopped = false

  function hold(key: string): HeldQueue<TRow> {
    const entry: HeldQueue<TRow> = {
      items: [],
      after: options.after(),
      attempts: 0,
      timer: undefined,
      dead: undefined,
    }
    held.set(key, entry)
    changed = true
    return entry
  }

  function push(entry: HeldQueue<TRow>, event: RecordedEvent, routed: RoutedEvent<TRow> | undefined) {
    entry.items.push({ event, routed })
    events++
    if (oldest === undefined || event.position < oldest) oldest = event.position
  }

  function scheduleRetry(key: string, entry: HeldQueue<TRow>, error: unknown) {
    entry.attempts++
    if (entry.attempts > policy.attempts) return bury(key, entry, error)
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined
        const current = () => !stopped && held.get(key) === entry && entry.dead === undefined
        if (!current()) return
        options.schedule(
          () => rowKeysOf(key),
          () => {
            if (current()) drain(key, entry)
          },
        )
      },
      retryDelay(policy, entry.attempts),
    )
    entry.timer.unref()
  }

  /** Folds the held events of a key in order, until one fails again or none is left. */
  function drain(key: string, entry: HeldQueue<TRow>): boolean {
    while (entry.items.length > 0) {
      const item = entry.items[0]!
      let error: unknown
      try {
        item.routed ??= definition.route(item.event)
        error = item.routed === undefined ? undefined : write(item.routed, item.event.position)
      } catch (routeError) {
        bury(key, entry, routeError)
        return false
      }
      if (error !== undefined) {
        scheduleRetry(key, entry, error)
        return false
      }
      entry.items.shift()
      events--
      changed = true
      entry.attempts = 0
    }
    held.delete(key)
    changed = true
    return true
  }

  function bury(key: string, entry: HeldQueue<TRow>, error: unknown) {
    const { event } = entry.items[0]!
    entry.dead = {
      id: event.id,
      projection: definition.name,
      key,
      eventId: event.id,
      eventType: event.type,
      streamName: event.streamName,
      position: event.position,
      attempts: Math.max(1, entry.attempts),
      error: error instanceof Error ? error.message : String(error),
      failedAt: new Date(),
      heldBehind: 0,
    }
  }

  function rowKeysOf(key: string): string[] {
    const keys = new Set([key])
    for (const item of held.get(key)?.items ?? []) {
      try {
        item.routed ??= definition.route(item.event)
        if (item.routed) keys.add(item.routed.key)
      } catch {
        // It stays unroutable: the drain buries it again without writing a row.
      }
    }
    return [...keys]
  }

  function findDead(id: string): [string, HeldQueue<TRow> | undefined] {
    for (const [key, entry] of held) if (entry.dead?.id === id) return [key, entry]
    return ['', undefined]
  }

  return {
    get events() {
      return events
    },
    get oldest() {
      return oldest
    },
    get changed() {
      return changed
    },
    set changed(value) {
      changed = value
    },
    has: (key) => held.has(key),
    firstOf: (key) => held.get(key)?.items[0]?.event.position,
    checkpoint() {
      changed = false
      oldest = undefined
      const keys: HeldKey[] = []
      for (const [key, entry] of held) {
        const first = entry.items[0]!.event.position
        if (oldest === undefined || first < oldest) oldest = first
        keys.push({ key, position: first, after: entry.after })
      }
      return keys
    },
    holdUnroutable(key, event, error) {
      const entry = held.get(key) ?? hold(key)
      push(entry, event, undefined)
      if (entry.items.length === 1) bury(key, entry, error)
    },
    queueBehind(event, routed) {
      const waiting = held.get(routed.key)
      if (waiting) push(waiting, event, routed)
      return waiting !== undefined
    },
    holdFailed(event, routed, error) {
      const entry = hold(routed.key)
      push(entry, event, routed)
      scheduleRetry(routed.key, entry, error)
    },
    deadLetters: () =>
      [...held.values()].flatMap((entry) =>
        entry.dead ? [{ ...entry.dead, heldBehind: entry.items.length - 1 }] : [],
      ),
    keyOfDeadLetter(id) {
      const [key, entry] = findDead(id)
      return entry ? key : undefined
    },
    rowKeysOf,
    retry(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.attempts = policy.attempts
      return drain(key, entry)
    },
    discard(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.items.shift()
      events--
      changed = true
      entry.attempts = 0
      drain(key, entry)
      return true
    },
    clear() {
      for (const entry of held.values()) clearTimeout(entry.timer)
      held.clear()
      events = 0
      changed = false
      oldest = undefined
    },
    stop() {
      stopped = true
      for (const entry of held.values()) clearTimeout(entry.timer)
    },
  }
}
