import type { RecordedEvent } from '../framework/event-store/event-store.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import { createHeldKeys, type DeadLetter } from './held-keys.ts'
import type { ReadModelStore } from './read-model-store.ts'
import { restoreHeldKeys, type HeldKeysRestore } from './restore-held-keys.ts'
import { defaultHandlerRetry, type RetryPolicy } from './retry-policy.ts'
import { createRowWriter, type RowChangeListener } from './row-writer.ts'

export type { DeadLetter } from './held-keys.ts'

/** Where an engine reports what it did; absent while it builds as a shadow. */
export interface EngineListener<TRow> extends RowChangeListener<TRow> {
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
  /**
   * The position of the oldest event of `key` not folded yet: held behind a dead letter or a retry, or still
   * to be read again after a restart. Undefined when every event of the key up to `position` is settled.
   */
  heldSince(key: string): bigint | undefined
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

/**
 * Creates the engine that folds events into one read model. A handler that throws holds its key back (see
 * held-keys.ts) while other keys go on. The checkpoint moves past held events, so it carries the held keys: a
 * durable store saves them, and after a restart the engine reads the log again from before the oldest and
 * folds, in order, the events of held keys it had not folded, skipping every other event.
 */
export function createProjectionEngine<TRow>(
  definition: ProjectionDefinition<TRow>,
  store: ReadModelStore<TRow>,
  retryDefaults: Partial<RetryPolicy> = {},
): ProjectionEngine<TRow> {
  let restoring: HeldKeysRestore | undefined = restoreHeldKeys(store.held)
  let lastEventAt: Date | undefined
  let stopped = false
  let caughtUp = false
  const writer = createRowWriter({
    definition,
    store,
    listener: () => engine.listener,
    caughtUp: () => caughtUp,
  })
  const held = createHeldKeys({
    definition,
    policy: { ...defaultHandlerRetry, ...retryDefaults, ...definition.retry },
    write: writer.write,
    settle,
    after: () => (restoring ? restoring.after : store.position),
  })

  const engine: ProjectionEngine<TRow> = {
    definition,
    store,
    get position() {
      return store.position
    },
    get settledPosition() {
      return settled()
    },
    heldSince(key) {
      const first = held.firstOf(key)
      if (first !== undefined || restoring === undefined) return first
      return restoring.unfolded(held.has).find((entry) => entry.key === key)?.position
    },
    get resumeFrom() {
      return restoring ? restoring.cursor : store.position
    },
    get heldEvents() {
      return held.events
    },
    get eventsProcessed() {
      return writer.eventsProcessed
    },
    get failures() {
      return writer.failures
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
    deadLetters: () => held.deadLetters(),
    retryDeadLetter: (id) => held.retry(id),
    discardDeadLetter: (id) => held.discard(id),
    reset() {
      held.clear()
      restoring = undefined
      store.clear()
      writer.reset()
      lastEventAt = undefined
      caughtUp = false
    },
    stop() {
      stopped = true
      held.stop()
    },
  }

  function settled(): bigint {
    const position = store.position
    let oldest = held.oldest
    if (restoring !== undefined) {
      for (const { position: first } of restoring.unfolded(held.has))
        if (oldest === undefined || first < oldest) oldest = first
    }
    return oldest !== undefined && oldest <= position ? oldest - 1n : position
  }

  function commit(position: bigint) {
    if (held.changed || restoring !== undefined) {
      // The held keys as a checkpoint records them, with those a restart has not read again yet.
      const keys = held.checkpoint()
      if (restoring !== undefined) keys.push(...restoring.unfolded(held.has))
      store.commit(position, definition.version, keys)
    } else store.commit(position, definition.version)
    engine.listener?.advanced(held.oldest === undefined && restoring === undefined ? position : settled())
  }

  /** Commits held events folded (or discarded) outside the flow of the log: a retry or an operator. */
  function settle() {
    if (!stopped) commit(store.position)
  }

  function fold(event: RecordedEvent) {
    let routed: RoutedEvent<TRow> | undefined
    try {
      routed = definition.route(event)
    } catch (error) {
      // An event that cannot be parsed or keyed will not improve with retries: straight to the dead letters.
      held.holdUnroutable(definition.aggregateIdOf(event), event, error)
      return
    }
    if (routed === undefined || held.queueBehind(event, routed)) return
    const error = writer.write(routed, event.position)
    if (error !== undefined) held.holdFailed(event, routed, error)
  }

  /** Folds, after a restart, an event of the log the checkpoint is past: only if its key was held there. */
  function refold(restore: HeldKeysRestore, event: RecordedEvent) {
    restore.cursor = event.position
    let key: string
    try {
      const routed = definition.route(event)
      if (routed === undefined) return
      key = routed.key
    } catch {
      key = definition.aggregateIdOf(event)
    }
    if (!restore.wasHeld(key, event.position)) return
    fold(event)
    settle()
  }

  /** The log has been read again past the checkpoint: the held keys are those held now. */
  function finishRestore() {
    restoring = undefined
    held.changed = true
    settle()
  }

  return engine
}
