import type { RecordedEvent } from '../framework/index.ts'
import { spanAttributes, startEventSpan } from '../framework/internal.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import { createHeldKeys, type DeadLetter } from './held-keys.ts'
import {
  isRowRefused,
  type BatchChange,
  type HeldKey,
  type ReadModelStore,
} from './read-models/read-model-store.ts'
import { restoreHeldKeys, type HeldKeysRestore } from './restore-held-keys.ts'
import { defaultHandlerRetry, type RetryPolicy } from './retry-policy.ts'
import { createBatchRows, createRowWriter, type BatchRows } from './read-models/row-writer.ts'

export type { DeadLetter } from './held-keys.ts'

/** What a runner hands an engine at once: events in log order, and how far the log was considered. */
export interface EventBatch {
  readonly events: readonly RecordedEvent[]
  /** The log was considered up to here (the last event, or a later checkpoint of the subscription). */
  readonly through: bigint
  /** The subscription reported that it reached the head of the log after these events. */
  readonly caughtUp: boolean
  /**
   * The runner holds the next batch already: the engine may answer once this batch's commit has started, and
   * fold the next one while it runs. A failed commit then fails the next apply, so it cannot go unnoticed.
   */
  readonly more?: boolean
}

/** What a commit made visible: where the model stands, and the changes it made (when recorded). */
export interface CommittedBatch<TRow> {
  readonly position: bigint
  readonly settled: bigint
  /** The first unsettled position of each key held back. */
  readonly held: ReadonlyMap<string, bigint>
  readonly changes: readonly BatchChange<TRow>[]
  /** True when changes were left out (nobody read them while the model built): resuming before it expires. */
  readonly changesSkipped: boolean
  /** Held events were folded or dropped: a waiter on one row may be released. */
  readonly released: boolean
}

/** Where an engine reports its commits; absent while it builds as a shadow. */
export interface EngineListener<TRow> {
  /** Whether anyone reads the changes now; while a model catches up unread, changes are not even built. */
  readonly reading: boolean
  committed(batch: CommittedBatch<TRow>): void
}

export interface ProjectionEngine<TRow> {
  readonly definition: ProjectionDefinition<TRow>
  readonly store: ReadModelStore<TRow>
  /** How far the log has been considered and committed (the checkpoint); held events may lie before it. */
  readonly position: bigint
  /**
   * Every event at or before it is folded into the committed rows or discarded: what waitFor and a page's
   * position promise. It equals `position` unless events are held back behind a dead letter or a retry.
   */
  readonly settledPosition: bigint
  /**
   * The position of the oldest event of each key not folded into the committed rows: held behind a dead
   * letter or a retry, or still to be read again after a restart. A key absent is settled.
   */
  readonly heldKeys: ReadonlyMap<string, bigint>
  /** Where a subscription feeding this engine starts: before `position` while held events are read again. */
  readonly resumeFrom: bigint
  /** How many events wait behind dead letters and retries (not yet folded). */
  readonly heldEvents: number
  readonly eventsProcessed: number
  readonly failures: number
  /** The creation time of the last event considered, for the lag in milliseconds. */
  readonly lastEventAt: Date | undefined
  /** Whether the committed checkpoint has been read (false before open() and after a failed commit). */
  readonly opened: boolean
  /** Whether the engine has reached the head of the log since it opened (or was reset). */
  readonly caughtUp: boolean
  listener: EngineListener<TRow> | undefined
  /** Reads the committed checkpoint and forgets what was not committed (a start, or after a failed commit). */
  open(): Promise<void>
  /** The rows were built by another definition, as the last open found them (see Checkpoint.stale). */
  readonly stale: 'older' | 'newer' | undefined
  /** Resolves once the batch or operation in progress, if any, has ended, its commit landed or failed. */
  drained(): Promise<void>
  /**
   * Folds a batch of events (skipping those at or before the checkpoint) and commits it in one step. With
   * `more`, it may resolve while the commit runs; the next call waits for that commit and fails if it did.
   */
  apply(batch: EventBatch): Promise<void>
  deadLetters(): readonly DeadLetter[]
  /** Tries a dead letter's event again; true when it went in and its key was released. */
  retryDeadLetter(id: string): Promise<boolean>
  /** Drops a dead letter's event for good and folds the events held behind it. */
  discardDeadLetter(id: string): Promise<boolean>
  /** Empties the model: it folds the log again from the start. */
  reset(): Promise<void>
  stop(): void
}

/**
 * How often a batch that only moves the position is committed: skipping a long run of events it does not
 * handle costs a commit a CHECKPOINT_EVERY_MS, not one per batch (each a round trip and a flush to disk).
 */
const CHECKPOINT_EVERY_MS = 1_000

/** A batch's commit still running while the next batch folds: its rows stand in for the store's. */
interface Landing<TRow> {
  readonly writes: ReadonlyMap<string, TRow | undefined>
  readonly position: bigint
  readonly landed: Promise<void>
  failure?: unknown
}

/** The committed state readers see; the batch in progress changes none of it until its commit. */
interface Committed {
  position: bigint
  settled: bigint
  /** The first unsettled position of each key not settled, as of the last commit. */
  held: ReadonlyMap<string, bigint>
}

/**
 * Creates the engine that folds events into one read model, a batch at a time: it loads the rows the batch
 * touches, runs the handlers in memory, and commits the rows, the checkpoint and the held keys together. A
 * handler that throws holds its key back (see held-keys.ts) while other keys go on. The checkpoint moves
 * past held events, so it carries the held keys; after a restart the engine reads the log again from before
 * the oldest and folds, in order, the events of held keys it had not folded, skipping every other event.
 * Batches, retries and operations run one at a time, except that a batch the runner knows is followed by
 * another may fold while the previous one commits (its rows served from memory, not the store): during a
 * catch-up the database and the handlers then work side by side.
 */
export function createProjectionEngine<TRow>(
  definition: ProjectionDefinition<TRow>,
  store: ReadModelStore<TRow>,
  retryDefaults: Partial<RetryPolicy> = {},
): ProjectionEngine<TRow> {
  let restoring: HeldKeysRestore | undefined
  let committed: Committed = { position: 0n, settled: 0n, held: new Map() }
  /** Opened at the start of the log: its changes are not recorded until it first catches up, unless read. */
  let fresh = true
  let lastEventAt: Date | undefined
  let stopped = false
  let caughtUp = false
  let batch: BatchRows<TRow> | undefined
  let released = false
  /** A commit failed: what is in memory is ahead of the store until open() reads the checkpoint again. */
  let broken = false
  let opened = false
  let stale: 'older' | 'newer' | undefined
  let tail: Promise<unknown> = Promise.resolve()
  let landing: Landing<TRow> | undefined
  /** A commit that ran alongside the next batch failed: batches commit one at a time until one lands. */
  let oneAtATime = false
  /** The position the store has, or will have once the running commit lands. */
  let checkpointed = 0n
  /** When the last commit started (performance.now()); -Infinity: none since the engine was created. */
  let checkpointedAt = -Infinity
  /** Commits a position published but not committed yet, CHECKPOINT_EVERY_MS after the last commit. */
  let flush: NodeJS.Timeout | undefined
  const writer = createRowWriter(definition)
  const held = createHeldKeys({
    definition,
    policy: { ...defaultHandlerRetry, ...retryDefaults, ...definition.retry },
    write: (routed, position) => writer.write(openBatch(), routed, position),
    schedule: (keys, drain) => {
      void serial(async () => {
        if (stopped || broken) return
        await begin(keys())
        drain()
        released = true
        await commit()
      }).catch(() => {
        // A failed commit forgot the drain with the batch; open() brought the committed held keys back.
      })
    },
    after: () => (restoring ? restoring.after : openBatch().position),
  })

  const engine: ProjectionEngine<TRow> = {
    definition,
    store,
    get position() {
      return committed.position
    },
    get settledPosition() {
      return committed.settled
    },
    get heldKeys() {
      return committed.held
    },
    get resumeFrom() {
      return restoring ? restoring.cursor : committed.position
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
    get opened() {
      return opened && !broken
    },
    open: () => serial(() => open()),
    get stale() {
      return stale
    },
    drained: () => serial(() => landed().catch(() => {})),
    apply: (events) => serial(() => applyBatch(events)),
    deadLetters: () => held.deadLetters(),
    retryDeadLetter: (id) => operate(id, () => held.retry(id)),
    discardDeadLetter: (id) => operate(id, () => held.discard(id)),
    reset: () =>
      serial(async () => {
        if (landing) await landed().catch(() => {})
        held.clear()
        restoring = undefined
        await store.clear()
        writer.reset()
        lastEventAt = undefined
        caughtUp = false
        fresh = true
        committed = { position: 0n, settled: 0n, held: new Map() }
        checkpointed = 0n
        broken = false
      }),
    stop() {
      stopped = true
      clearTimeout(flush)
      held.stop()
    },
  }

  /** Runs batches, retries and operations one after another: their commits never interleave. */
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const run = tail.then(task)
    tail = run.catch(() => {})
    return run
  }

  async function open({ keepCaughtUp = false } = {}) {
    if (landing) await landed().catch(() => {})
    held.clear()
    batch = undefined
    const checkpoint = await store.open()
    restoring = restoreHeldKeys(checkpoint.held)
    fresh = checkpoint.position === 0n
    stale = checkpoint.stale
    if (!keepCaughtUp) caughtUp = false
    broken = false
    opened = true
    committed = snapshot(checkpoint.position, checkpoint.held)
    checkpointed = checkpoint.position
    engine.listener?.committed({
      ...committed,
      changes: [],
      changesSkipped: false,
      released: true,
    })
  }

  function openBatch(): BatchRows<TRow> {
    if (!batch) throw new Error(`${definition.name}: a row was written outside a batch`)
    return batch
  }

  /** Starts a batch where the last one ends: after its commit landed, or, overlapping, beside it. */
  async function begin(keys: readonly string[], overlap = false) {
    if (!overlap && landing) await landed()
    const recordChanges = !fresh || caughtUp || engine.listener?.reading === true
    batch = createBatchRows<TRow>(landing?.position ?? committed.position, recordChanges)
    if (landing) {
      // The store may not have these rows yet: the commit still running has them.
      const { writes } = landing
      batch.loaded(
        writes,
        keys.filter((key) => writes.has(key)),
      )
    }
    await load(keys)
  }

  /** Waits for a commit still running; throws if it failed (the engine must then be opened again). */
  async function landed() {
    const current = landing
    if (current === undefined) return
    await current.landed
    if (current.failure !== undefined) {
      throw new Error(`${definition.name}: the commit of an earlier batch failed`, {
        cause: current.failure,
      })
    }
  }

  async function load(keys: Iterable<string>) {
    const missing = openBatch().missing(keys)
    if (missing.length > 0) openBatch().loaded(await store.load(missing), missing)
  }

  async function applyBatch(batch: EventBatch) {
    if (broken) throw new Error(`${definition.name}: a commit failed; open the engine again first`)
    const routed = batch.events.map(routeOf)
    const overlap = batch.more === true && !batch.caughtUp && !oneAtATime
    try {
      await foldAndCommit(batch, routed, overlap)
    } catch (error) {
      if (!isRowRefused(error)) throw error
      // The database refused a row of the batch: fold it again one event at a time, to hold just the event
      // whose row it refuses, with its reason, as a dead letter.
      await open({ keepCaughtUp: true })
      for (const [index, event] of batch.events.entries()) {
        const last = index === batch.events.length - 1
        const one = {
          events: [event],
          through: last ? batch.through : event.position,
          caughtUp: last && batch.caughtUp,
        }
        await foldAndCommit(one, [routed[index]!]).catch(async (refusal: unknown) => {
          if (!isRowRefused(refusal)) throw refusal
          await open({ keepCaughtUp: true })
          const key = routed[index]!.routed?.key ?? definition.aggregateIdOf(event)
          await foldAndCommit(one, [{ routed: undefined, error: refusal, refused: key }])
        })
      }
    }
  }

  async function foldAndCommit(
    { events, through, caughtUp: reachedHead }: EventBatch,
    routed: Routed<TRow>[],
    overlap = false,
  ) {
    const keys = new Set<string>()
    for (const item of routed) if (item.routed) keys.add(item.routed.key)
    await begin([...keys], overlap)
    for (const [index, event] of events.entries()) applyOne(event, routed[index]!)
    const rows = openBatch()
    if (restoring !== undefined) {
      // Considered through the checkpoint: every held event has been read again.
      if (through >= rows.position || reachedHead) finishRestore()
      else if (through > restoring.cursor) restoring.cursor = through
    }
    if (through > rows.position && restoring === undefined) rows.position = through
    // No event of the batch went to a handler: its commit only moves the position, and may wait (see commit).
    const positionOnly = routed.every((item) => item.routed === undefined && item.error === undefined)
    await commit(reachedHead, overlap, positionOnly)
    if (reachedHead) {
      caughtUp = true
      fresh = false
    }
  }

  function applyOne(event: RecordedEvent, route: Routed<TRow>) {
    const at = event.position
    const current = openBatch().position
    if (at <= current) {
      if (restoring === undefined || at <= restoring.cursor) return
      refold(restoring, event, route)
      if (at === current) finishRestore()
      return
    }
    if (restoring !== undefined) finishRestore()
    lastEventAt = event.createdAt
    const traced = startEventSpan(`projection ${definition.name}`, event)
    if (traced === undefined) fold(event, route)
    else {
      traced.span.setAttribute(spanAttributes.projection, definition.name)
      fold(event, route)
      traced.span.end()
    }
    openBatch().position = at
  }

  /** Commits the position published last, if no commit has since, once CHECKPOINT_EVERY_MS has passed. */
  function checkpointLater() {
    if (flush !== undefined) return
    flush = setTimeout(
      () => {
        flush = undefined
        void serial(async () => {
          if (stopped || broken || !opened || committed.position === checkpointed) return
          await begin([])
          await commit()
        }).catch(() => {
          // A failed commit marks the engine broken: the runner opens it again from the committed checkpoint.
        })
      },
      Math.max(0, CHECKPOINT_EVERY_MS - (performance.now() - checkpointedAt)),
    )
    flush.unref()
  }

  /** A dead letter operation: its rows loaded, the held events folded, committed. */
  function operate(id: string, run: () => boolean): Promise<boolean> {
    return serial(async () => {
      if (broken) throw new Error(`${definition.name}: its store is unavailable; try again`)
      const key = held.keyOfDeadLetter(id)
      if (key === undefined) return false
      await begin(held.rowKeysOf(key))
      const result = run()
      released = true
      await commit()
      return result
    })
  }

  /**
   * Commits the batch: at once, or, overlapping, by starting its commit and answering while it runs (the
   * next batch folds meanwhile). Either way commits land in order, each after the one before it.
   */
  async function commit(reachedHead = false, overlap = false, positionOnly = false) {
    const rows = openBatch()
    let keys: HeldKey[] | undefined
    if (held.changed || restoring !== undefined) {
      // The held keys as a checkpoint records them, with those a restart has not read again yet.
      keys = held.checkpoint()
      if (restoring !== undefined) keys.push(...restoring.unfolded(held.has))
    }
    batch = undefined
    // A batch that changes nothing is not committed; reaching the head the first time is recorded.
    const unchanged = rows.writes === 0 && keys === undefined && (caughtUp || !reachedHead)
    const idle = unchanged && rows.position === checkpointed
    // One that only moves the position (past events it skips, or to a checkpoint of a filtered read) is
    // committed once a CHECKPOINT_EVERY_MS at most: a restart reads those events again, and they write nothing.
    // A batch that handled an event commits at once, even if it changed no row: a replica waiting on that
    // event's token learns of it from the commit.
    const deferred =
      unchanged && !idle && positionOnly && performance.now() - checkpointedAt < CHECKPOINT_EVERY_MS
    if (landing) await landed()
    const releasedHere = released
    released = false
    if (deferred) checkpointLater()
    if (idle || deferred) return publish(rows, keys, { idle, released: releasedHere })
    checkpointedAt = performance.now()
    checkpointed = rows.position
    const toCommit = rows.toCommit(definition.version, keys, caughtUp || reachedHead)
    if (!overlap) {
      try {
        await store.commit(toCommit)
      } catch (error) {
        // What the batch folded in memory is gone with it: the engine must read the checkpoint again.
        broken = true
        throw error
      }
      oneAtATime = false
      return publish(rows, keys, { idle, released: releasedHere })
    }
    const current: Landing<TRow> = {
      writes: toCommit.writes,
      position: rows.position,
      landed: store
        .commit(toCommit)
        .then(
          () => publish(rows, keys, { idle, released: releasedHere }),
          (error: unknown) => {
            // The next batch folded on top of this one: both are gone, and the next apply says so.
            broken = true
            oneAtATime = true
            current.failure = error
          },
        )
        .finally(() => {
          if (landing === current) landing = undefined
        }),
    }
    landing = current
  }

  /** Makes a landed commit what readers see, and tells the listener what it changed. */
  function publish(
    rows: BatchRows<TRow>,
    keys: readonly HeldKey[] | undefined,
    { idle, released: releasedHere }: { idle: boolean; released: boolean },
  ) {
    const before = committed
    committed =
      keys === undefined
        ? { position: rows.position, settled: settledOf(before.held, rows.position), held: before.held }
        : snapshot(rows.position, keys)
    const wasReleased = releasedHere || before.held.size !== committed.held.size
    if (idle && !wasReleased) return
    engine.listener?.committed({
      ...committed,
      changes: rows.changes,
      changesSkipped: !rows.recordChanges,
      released: wasReleased,
    })
  }

  /** The committed view once the held keys are known: the settled position is just before the oldest. */
  function snapshot(position: bigint, keys: readonly HeldKey[]): Committed {
    const firsts = new Map<string, bigint>()
    for (const { key, position: first } of keys) firsts.set(key, first)
    return { position, settled: settledOf(firsts, position), held: firsts }
  }

  function fold(event: RecordedEvent, route: Routed<TRow>) {
    if (route.refused !== undefined) {
      held.holdUnroutable(route.refused, event, route.error)
      return
    }
    if (route.error !== undefined) {
      // An event that cannot be parsed or keyed will not improve with retries: straight to the dead letters.
      held.holdUnroutable(definition.aggregateIdOf(event), event, route.error)
      return
    }
    const { routed } = route
    if (routed === undefined || held.queueBehind(event, routed)) return
    const error = writer.write(openBatch(), routed, event.position)
    if (error !== undefined) held.holdFailed(event, routed, error)
  }

  /** Folds, after a restart, an event of the log the checkpoint is past: only if its key was held there. */
  function refold(restore: HeldKeysRestore, event: RecordedEvent, route: Routed<TRow>) {
    restore.cursor = event.position
    const key = route.routed?.key ?? definition.aggregateIdOf(event)
    if (route.error === undefined && route.routed === undefined) return
    if (!restore.wasHeld(key, event.position)) return
    fold(event, route)
    released = true
  }

  /** The log has been read again past the checkpoint: the held keys are those held now. */
  function finishRestore() {
    restoring = undefined
    held.changed = true
    released = true
  }

  function routeOf(event: RecordedEvent): Routed<TRow> {
    try {
      return { routed: definition.route(event), error: undefined }
    } catch (error) {
      return { routed: undefined, error: error ?? new Error('unroutable') }
    }
  }

  return engine
}

/** An event routed ahead of its batch: its handler and key, or why it cannot be routed. */
type Routed<TRow> =
  | {
      readonly routed: RoutedEvent<TRow> | undefined
      readonly error: undefined
      readonly refused?: undefined
    }
  /** `refused` names the row key whose row the store refused for this event. */
  | { readonly routed: undefined; readonly error: unknown; readonly refused?: string }

/** Just before the oldest held position at or before `position`; `position` when none is. */
function settledOf(held: ReadonlyMap<string, bigint>, position: bigint): bigint {
  let oldest: bigint | undefined
  for (const first of held.values()) if (oldest === undefined || first < oldest) oldest = first
  return oldest !== undefined && oldest <= position ? oldest - 1n : position
}
