import type { RecordedEvent } from '../framework/event-store/event-store.ts'
import type { RowChange } from '../framework/read-model/read-model-source.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import type { ReadModelStore } from './read-model-store.ts'
import { defaultHandlerRetry, retryDelay, type RetryPolicy } from './retry-policy.ts'

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
}

/** Where an engine reports what it did; absent while it builds as a shadow. */
export interface EngineListener<TRow> {
  changed(change: RowChange<TRow>): void
  advanced(position: bigint): void
}

export interface ProjectionEngine<TRow> {
  readonly definition: ProjectionDefinition<TRow>
  readonly store: ReadModelStore<TRow>
  readonly position: bigint
  readonly eventsProcessed: number
  readonly failures: number
  /** The creation time of the last event considered, for the lag in milliseconds. */
  readonly lastEventAt: Date | undefined
  caughtUp: boolean
  listener: EngineListener<TRow> | undefined
  /** Folds one event in (or skips it when at or before the position); never throws, never waits. */
  apply(event: RecordedEvent): void
  /** Records that the log was considered up to `position` (an event filtered out, a checkpoint). */
  advance(position: bigint): void
  deadLetters(): readonly DeadLetter[]
  /** Tries a dead letter's event again; true when it went in and its key was released. */
  retryDeadLetter(id: string): boolean
  /** Drops a dead letter's event for good and releases its key. */
  discardDeadLetter(id: string): boolean
  reset(): void
  stop(): void
}

interface HeldItem<TRow> {
  readonly event: RecordedEvent
  routed: RoutedEvent<TRow> | undefined
}

interface HeldKey<TRow> {
  readonly items: HeldItem<TRow>[]
  attempts: number
  timer: NodeJS.Timeout | undefined
  dead: DeadLetter | undefined
}

/**
 * Creates the engine that folds events into one read model. A handler that throws is retried with back-off;
 * meanwhile, and after it lands in the dead letters, later events for the same key wait behind it so that a
 * row never skips an event, while other keys go on.
 */
export function createProjectionEngine<TRow>(
  definition: ProjectionDefinition<TRow>,
  store: ReadModelStore<TRow>,
  retryDefaults: Partial<RetryPolicy> = {},
): ProjectionEngine<TRow> {
  const policy: RetryPolicy = { ...defaultHandlerRetry, ...retryDefaults, ...definition.retry }
  const held = new Map<string, HeldKey<TRow>>()
  let eventsProcessed = 0
  let failures = 0
  let lastEventAt: Date | undefined
  let stopped = false

  const engine: ProjectionEngine<TRow> = {
    definition,
    store,
    get position() {
      return store.position
    },
    get eventsProcessed() {
      return eventsProcessed
    },
    get failures() {
      return failures
    },
    get lastEventAt() {
      return lastEventAt
    },
    caughtUp: false,
    listener: undefined,
    apply(event) {
      if (event.position <= store.position) return
      lastEventAt = event.createdAt
      fold(event)
      commit(event.position)
    },
    advance(position) {
      if (position > store.position) commit(position)
    },
    deadLetters: () => [...held.values()].flatMap((entry) => (entry.dead ? [entry.dead] : [])),
    retryDeadLetter(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.attempts = policy.attempts
      return drain(key, entry)
    },
    discardDeadLetter(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.items.shift()
      entry.attempts = 0
      drain(key, entry)
      return true
    },
    reset() {
      for (const entry of held.values()) clearTimeout(entry.timer)
      held.clear()
      store.clear()
      eventsProcessed = 0
      failures = 0
      lastEventAt = undefined
      engine.caughtUp = false
    },
    stop() {
      stopped = true
      for (const entry of held.values()) clearTimeout(entry.timer)
    },
  }

  function commit(position: bigint) {
    store.commit(position, definition.version)
    engine.listener?.advanced(position)
  }

  function fold(event: RecordedEvent) {
    let routed: RoutedEvent<TRow> | undefined
    try {
      routed = definition.route(event)
    } catch (error) {
      // An event that cannot be parsed or keyed will not improve with retries: straight to the dead letters.
      const key = definition.aggregateIdOf(event)
      const entry = held.get(key) ?? hold(key)
      entry.items.push({ event, routed: undefined })
      if (entry.items.length === 1) bury(key, entry, error)
      return
    }
    if (routed === undefined) return
    const waiting = held.get(routed.key)
    if (waiting) {
      waiting.items.push({ event, routed })
      return
    }
    const error = write(routed, event.position)
    if (error === undefined) return
    const entry = hold(routed.key)
    entry.items.push({ event, routed })
    scheduleRetry(routed.key, entry, error)
  }

  /** Runs the handler and writes its row; returns the error instead of throwing. */
  function write(routed: RoutedEvent<TRow>, position: bigint): unknown {
    const { key } = routed
    const current = store.get(key)
    let next: TRow | null | undefined
    try {
      next = routed.handle(current, routed.event, routed.context)
      if (next !== null && next !== undefined) checkRow(next, key)
    } catch (error) {
      failures++
      return error
    }
    eventsProcessed++
    if (next === undefined || next === current) return undefined
    const at = position > store.position ? position : store.position
    if (next === null) {
      if (current === undefined) return undefined
      store.delete(key)
      engine.listener?.changed({ kind: 'deleted', key, previous: current, position: at })
    } else {
      store.put(key, next)
      engine.listener?.changed(
        current === undefined
          ? { kind: 'created', key, row: next, position: at }
          : { kind: 'updated', key, row: next, previous: current, position: at },
      )
    }
    return undefined
  }

  function checkRow(row: TRow, key: string) {
    const value = (row as Record<string, unknown>)[definition.key]
    if (value !== key) {
      throw new Error(`the row's ${definition.key} is ${String(value)}, but the handler wrote key ${key}`)
    }
    if (definition.validateRows) {
      const parsed = definition.schema.safeParse(row)
      if (!parsed.success) {
        const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
        throw new Error(`the row does not match the schema: ${where.join('; ')}`)
      }
    }
  }

  function hold(key: string): HeldKey<TRow> {
    const entry: HeldKey<TRow> = { items: [], attempts: 0, timer: undefined, dead: undefined }
    held.set(key, entry)
    return entry
  }

  function scheduleRetry(key: string, entry: HeldKey<TRow>, error: unknown) {
    entry.attempts++
    if (entry.attempts > policy.attempts) return bury(key, entry, error)
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined
        if (!stopped) drain(key, entry)
      },
      retryDelay(policy, entry.attempts),
    )
    entry.timer.unref()
  }

  /** Folds the held events of a key in order, until one fails again or none is left. */
  function drain(key: string, entry: HeldKey<TRow>): boolean {
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
      entry.attempts = 0
    }
    held.delete(key)
    return true
  }

  function bury(key: string, entry: HeldKey<TRow>, error: unknown) {
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
    }
  }

  function findDead(id: string): [string, HeldKey<TRow> | undefined] {
    for (const [key, entry] of held) if (entry.dead?.id === id) return [key, entry]
    return ['', undefined]
  }

  return engine
}
