import type { RecordedEvent } from '../framework/event-store/event-store.ts'
import type { RowChange } from '../framework/read-model/read-model-source.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import type { HeldKey, ReadModelStore } from './read-model-store.ts'
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
  /** How many later events of the key wait behind this one. */
  readonly heldBehind: number
}

/** Where an engine reports what it did; absent while it builds as a shadow. */
export interface EngineListener<TRow> {
  /** Whether anyone reads the changes now; while catching up unread, changes are not even built. */
  readonly reading: boolean
  /** A row changed; `late` when its event was held and the model had moved past it. */
  changed(change: RowChange<TRow>, late: boolean): void
  /** A change at `position` was left out: nobody read it while the model caught up. */
  skipped(position: bigint): void
  /** The settled position moved (or may have): wake whoever waits for it. */
  advanced(settled: bigint): void
}

export interface ProjectionEngine<TRow> {
  readonly definition: ProjectionDefinition<TRow>
  readonly store: ReadModelStore<TRow>
  /** How far the log has been considered (the checkpoint); events of held keys may lie before it. */
  readonly position: bigint
  /**
   * Every event at or before it is folded into the rows or discarded: what waitFor and a page's position
   * promise. It equals `position` unless events are held back behind a dead letter or a retry.
   */
  readonly settledPosition: bigint
  /** Where a subscription feeding this engine starts: before `position` while held events are read again. */
  readonly resumeFrom: bigint
  /** How many events wait behind dead letters and retries (not yet folded). */
  readonly heldEvents: number
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
  /** Drops a dead letter's event for good and folds the events held behind it. */
  discardDeadLetter(id: string): boolean
  reset(): void
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
 * Creates the engine that folds events into one read model. A handler that throws is retried with back-off;
 * meanwhile, and after it lands in the dead letters, later events for the same key wait behind it so that a
 * row never skips an event, while other keys go on. The checkpoint moves past held events, so it carries the
 * held keys: a durable store saves them, and after a restart the engine reads the log again from before the
 * oldest and folds, in order, the events of held keys it had not folded, skipping every other event.
 */
export function createProjectionEngine<TRow>(
  definition: ProjectionDefinition<TRow>,
  store: ReadModelStore<TRow>,
  retryDefaults: Partial<RetryPolicy> = {},
): ProjectionEngine<TRow> {
  const policy: RetryPolicy = { ...defaultHandlerRetry, ...retryDefaults, ...definition.retry }
  const held = new Map<string, HeldQueue<TRow>>()
  let heldEvents = 0
  /** Set when the held keys changed since the last commit: the next commit hands them to the store. */
  let heldChanged = false
  /** The position of the oldest held event, while any is held. */
  let oldestHeld: bigint | undefined
  let restoring = startRestore(store.held)
  let eventsProcessed = 0
  let failures = 0
  let lastEventAt: Date | undefined
  let stopped = false
  let caughtUp = false

  const engine: ProjectionEngine<TRow> = {
    definition,
    store,
    get position() {
      return store.position
    },
    get settledPosition() {
      return settled()
    },
    get resumeFrom() {
      return restoring ? restoring.cursor : store.position
    },
    get heldEvents() {
      return heldEvents
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
    listener: undefined,
    get caughtUp() {
      return caughtUp
    },
    set caughtUp(value) {
      // Caught up with the log means past the checkpoint: every held event has been read again.
      if (value && restoring !== undefined) finishRestore()
      caughtUp = value
    },
    apply(event) {
      const at = event.position
      if (at <= store.position) {
        if (restoring === undefined || at <= restoring.cursor) return
        refold(restoring, event)
        if (at === store.position) finishRestore()
        return
      }
      if (restoring !== undefined) finishRestore()
      lastEventAt = event.createdAt
      fold(event)
      commit(at)
    },
    advance(position) {
      if (restoring !== undefined) {
        if (position < store.position) {
          if (position > restoring.cursor) restoring.cursor = position
          return
        }
        finishRestore()
      }
      if (position > store.position) commit(position)
    },
    deadLetters: () => [...held.values()].flatMap((entry) => (entry.dead ? [deadLetterOf(entry)] : [])),
    retryDeadLetter(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.attempts = policy.attempts
      const released = drain(key, entry)
      settle()
      return released
    },
    discardDeadLetter(id) {
      const [key, entry] = findDead(id)
      if (!entry) return false
      entry.dead = undefined
      entry.items.shift()
      heldEvents--
      heldChanged = true
      entry.attempts = 0
      drain(key, entry)
      settle()
      return true
    },
    reset() {
      for (const entry of held.values()) clearTimeout(entry.timer)
      held.clear()
      heldEvents = 0
      heldChanged = false
      oldestHeld = undefined
      restoring = undefined
      store.clear()
      eventsProcessed = 0
      failures = 0
      lastEventAt = undefined
      caughtUp = false
    },
    stop() {
      stopped = true
      for (const entry of held.values()) clearTimeout(entry.timer)
    },
  }

  function settled(): bigint {
    const position = store.position
    let oldest = oldestHeld
    if (restoring !== undefined) {
      for (const { position: first } of unfolded(restoring))
        if (oldest === undefined || first < oldest) oldest = first
    }
    return oldest !== undefined && oldest <= position ? oldest - 1n : position
  }

  function commit(position: bigint) {
    if (heldChanged || restoring !== undefined) {
      heldChanged = false
      oldestHeld = undefined
      for (const entry of held.values()) {
        const first = entry.items[0]!.event.position
        if (oldestHeld === undefined || first < oldestHeld) oldestHeld = first
      }
      store.commit(position, definition.version, heldKeys())
    } else store.commit(position, definition.version)
    engine.listener?.advanced(oldestHeld === undefined && restoring === undefined ? position : settled())
  }

  /** Commits held events folded (or discarded) outside the flow of the log: a retry or an operator. */
  function settle() {
    if (!stopped) commit(store.position)
  }

  /** The held keys as a checkpoint records them, with those a restart has not read again yet. */
  function heldKeys(): HeldKey[] {
    const keys: HeldKey[] = []
    for (const [key, entry] of held)
      keys.push({ key, position: entry.items[0]!.event.position, after: entry.after })
    if (restoring !== undefined) keys.push(...unfolded(restoring))
    return keys
  }

  /** The restored keys that are not held now: their events after the cursor are still to fold again. */
  function unfolded(restore: Restore): HeldKey[] {
    const keys: HeldKey[] = []
    for (const [key, first] of restore.keys) {
      if (held.has(key)) continue
      const next = restore.cursor + 1n
      keys.push({ key, position: first > next ? first : next, after: restore.after })
    }
    return keys
  }

  function fold(event: RecordedEvent) {
    let routed: RoutedEvent<TRow> | undefined
    try {
      routed = definition.route(event)
    } catch (error) {
      // An event that cannot be parsed or keyed will not improve with retries: straight to the dead letters.
      const key = definition.aggregateIdOf(event)
      const entry = held.get(key) ?? hold(key)
      push(entry, event, undefined)
      if (entry.items.length === 1) bury(key, entry, error)
      return
    }
    if (routed === undefined) return
    const waiting = held.get(routed.key)
    if (waiting) {
      push(waiting, event, routed)
      return
    }
    const error = write(routed, event.position)
    if (error === undefined) return
    const entry = hold(routed.key)
    push(entry, event, routed)
    scheduleRetry(routed.key, entry, error)
  }

  /** Folds, after a restart, an event of the log the checkpoint is past: only if its key was held there. */
  function refold(restore: Restore, event: RecordedEvent) {
    restore.cursor = event.position
    let key: string
    try {
      const routed = definition.route(event)
      if (routed === undefined) return
      key = routed.key
    } catch {
      key = definition.aggregateIdOf(event)
    }
    const first = restore.keys.get(key)
    if (first === undefined || event.position < first) return
    fold(event)
    settle()
  }

  /** The log has been read again past the checkpoint: the held keys are those held now. */
  function finishRestore() {
    restoring = undefined
    heldChanged = true
    settle()
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
    if (next === null) {
      if (current === undefined) return undefined
      store.delete(key)
    } else store.put(key, next)
    const listener = engine.listener
    if (listener === undefined) return undefined
    const late = position <= store.position
    const at = late ? store.position : position
    if (!caughtUp && !listener.reading) listener.skipped(at)
    else if (next === null) listener.changed({ kind: 'deleted', key, previous: current!, position: at }, late)
    else if (current === undefined) listener.changed({ kind: 'created', key, row: next, position: at }, late)
    else listener.changed({ kind: 'updated', key, row: next, previous: current, position: at }, late)
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

  function hold(key: string): HeldQueue<TRow> {
    const entry: HeldQueue<TRow> = {
      items: [],
      after: restoring ? restoring.after : store.position,
      attempts: 0,
      timer: undefined,
      dead: undefined,
    }
    held.set(key, entry)
    heldChanged = true
    return entry
  }

  function push(entry: HeldQueue<TRow>, event: RecordedEvent, routed: RoutedEvent<TRow> | undefined) {
    entry.items.push({ event, routed })
    heldEvents++
    if (oldestHeld === undefined || event.position < oldestHeld) oldestHeld = event.position
  }

  function scheduleRetry(key: string, entry: HeldQueue<TRow>, error: unknown) {
    entry.attempts++
    if (entry.attempts > policy.attempts) return bury(key, entry, error)
    entry.timer = setTimeout(
      () => {
        entry.timer = undefined
        if (stopped || held.get(key) !== entry) return
        drain(key, entry)
        settle()
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
      heldEvents--
      heldChanged = true
      entry.attempts = 0
    }
    held.delete(key)
    heldChanged = true
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

  function deadLetterOf(entry: HeldQueue<TRow>): DeadLetter {
    return { ...entry.dead!, heldBehind: entry.items.length - 1 }
  }

  function findDead(id: string): [string, HeldQueue<TRow> | undefined] {
    for (const [key, entry] of held) if (entry.dead?.id === id) return [key, entry]
    return ['', undefined]
  }

  return engine
}

/** What a restart knows of the held keys until the log has been read again up to the checkpoint. */
interface Restore {
  /** The first held position per key: its events from there on are folded again. */
  readonly keys: ReadonlyMap<string, bigint>
  /** The earliest `after`: where the log is read again from. */
  readonly after: bigint
  /** The last position read again; a resubscription goes on from there. */
  cursor: bigint
}

function startRestore(held: readonly HeldKey[] | undefined): Restore | undefined {
  if (held === undefined || held.length === 0) return undefined
  let after = held[0]!.after
  for (const entry of held) if (entry.after < after) after = entry.after
  return { keys: new Map(held.map((entry) => [entry.key, entry.position])), after, cursor: after }
}
