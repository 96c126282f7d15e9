import {
  AnnalsError,
  ConsistencyTimeoutError,
  type ChangesOptions,
  type ListQuery,
  type Page,
  type ProjectionState,
  type ProjectionStatus,
  type ReadModelSource,
  type RecordedEvent,
} from '../framework/index.ts'
import { createChangeFeed, type ChangeFeed } from './change-feed.ts'
import type { CommittedBatch, EngineListener, ProjectionEngine } from './projection-engine.ts'
import { createPositionWaiters } from './position-waiters.ts'
import { assertFields } from './read-models/row-query.ts'
import { lagAt, type LogView } from './lag.ts'

/** Where the committed checkpoint of a model stands, as its engine or another replica's commit reports it. */
export interface CommittedView {
  readonly position: bigint
  readonly settled: bigint
  /** The first unsettled position of each key not settled. */
  readonly held: ReadonlyMap<string, bigint>
}

/** A read model as the gateway sees it, over whichever engine currently serves it (a rebuild swaps it). */
export interface ProjectionSource<TRow> extends ReadModelSource<TRow> {
  readonly engine: ProjectionEngine<TRow>
  /** Set by the read side: paused, stopped or failed override what the engine reports. */
  override: Extract<ProjectionState, 'paused' | 'stopped' | 'failed'> | undefined
  /** Why it failed, while `override` is 'failed'. */
  failure: string | undefined
  /** Makes `engine` the one that serves, in one step: readers never see a half-built model. */
  switchTo(engine: ProjectionEngine<TRow>): void
  /** Empties the model and its feed so that it rebuilds from the start of the log. */
  restart(): Promise<void>
  /** A commit made elsewhere (another replica's engine) moved the model: wakes the waiters it concerns. */
  observe(view: CommittedView): void
  /**
   * Resolves once the model has handled the log up to `position`, each event folded into its row or held as a
   * dead letter (waitFor waits for them to be folded); else CONSISTENCY_TIMEOUT after `timeoutMs`.
   */
  reached(position: bigint, timeoutMs: number): Promise<void>
  /** Set where another replica may run the projection: its state as the shared checkpoint tells it. */
  remote: { readonly caughtUp: boolean; readonly running: boolean } | undefined
}

export interface ProjectionSourceOptions<TRow> {
  /** The feed readers follow; default a ring in memory fed by this replica's engine. */
  readonly feed?: ChangeFeed<TRow>
}

/**
 * One instance for every refusal: a client can make thousands at once (aliases, batches), and each new error
 * would capture and format a stack that nobody reads.
 */
const tokenBeyondHead = new AnnalsError(
  'TOKEN_BEYOND_HEAD',
  'consistentWith is beyond the head of the log; pass the token a mutation returned',
)

/** How many older relevant events waitFor looks through for the last one at or before its target. */
const PROBE_WINDOW = 64

/**
 * Creates the ReadModelSource of one projection: reads from its store, its change feed, waitFor on
 * positions (also positions of events it filters out) and its status.
 */
export function createProjectionSource<TRow>(
  initial: ProjectionEngine<TRow>,
  log: LogView,
  options: ProjectionSourceOptions<TRow> = {},
): ProjectionSource<TRow> {
  const { definition } = initial
  const feed: ChangeFeed<TRow> =
    options.feed ??
    createChangeFeed<TRow>(definition.name, {
      changes: definition.changeRetention,
      bytes: definition.changeRetentionBytes,
    })
  /** Callers waiting for the settled position (every key), and callers waiting for one row. */
  const waiters = createPositionWaiters()
  const rowWaiters = createPositionWaiters()
  let view: CommittedView = { position: 0n, settled: 0n, held: new Map() }
  const listener: EngineListener<TRow> = {
    get reading() {
      return feed.reading
    },
    committed(batch: CommittedBatch<TRow>) {
      if (batch.changesSkipped) feed.skip(batch.position)
      for (const { change, late } of batch.changes) feed.publish(change, late)
      advance(batch, batch.released)
    },
  }
  let engine = initial
  engine.listener = listener
  const readHead = sharedReads(() => log.store.headPosition())

  /** Moves the view forward and wakes whoever waited for it; never back (a late notification). */
  function advance(next: CommittedView, released: boolean) {
    if (next.position < view.position) return
    view = next
    waiters.notify(view.settled)
    if (rowWaiters.size > 0) rowWaiters.notify(view.position, released)
  }

  /** How far one row is settled: the processed position, or just before the row's oldest held event. */
  function rowReached(key: string): bigint {
    const since = view.held.get(key)
    return since !== undefined && since <= view.position ? since - 1n : view.position
  }

  /**
   * The last event at or before `target` that this projection folds; 0n for none; undefined if unknown;
   * 'beyond-head' when the log has not reached the target (no append of this service gave that token).
   */
  async function lastRelevantAtOrBefore(target: bigint): Promise<bigint | undefined | 'beyond-head'> {
    const { definition: current } = engine
    const { eventTypes } = current
    const handles = (event: RecordedEvent) => current.handles(event)
    try {
      if ((await readHead()) < target) return 'beyond-head'
      // Reads start at an event's position (the store refuses others): the token's own event, then those before it.
      const at = log.store.readAll({ fromPosition: target, eventTypes, maxCount: 1 })
      for await (const event of at) if (event.position === target && handles(event)) return target
      const older = log.store.readAll({
        direction: 'backwards',
        fromPosition: target,
        eventTypes,
        maxCount: PROBE_WINDOW,
      })
      let seen = 0
      for await (const event of older) {
        if (handles(event)) return event.position
        seen++
      }
      return seen < PROBE_WINDOW ? 0n : undefined
    } catch {
      // A position that is not an event's: wait for the model to pass it.
      return undefined
    }
  }

  const source: ProjectionSource<TRow> = {
    name: definition.name,
    ...(definition.description === undefined ? {} : { description: definition.description }),
    get schema() {
      return engine.definition.schema
    },
    key: definition.key,
    get engine() {
      return engine
    },
    override: undefined,
    failure: undefined,
    remote: undefined,
    get: (key) => engine.store.get(key),
    async list(query: ListQuery = {}): Promise<Page<TRow>> {
      assertFields(query, Object.keys(engine.definition.schema.shape), definition.name)
      // The position read before the rows: the page holds at least everything up to it.
      const position = view.position
      return { ...(await engine.store.list(query)), position }
    },
    changes: (options: ChangesOptions = {}) => feed.changes(options, () => view.position),
    async waitFor(target, timeoutMs, { key } = {}) {
      // Settled, not merely considered: an event held behind a dead letter is not in its row yet.
      if (view.settled >= target) return
      if (key !== undefined && rowReached(key) >= target) return
      const started = Date.now()
      // A position whose event this projection filters out counts once it has folded every event it handles up to it.
      const relevant = await lastRelevantAtOrBefore(target)
      // A token is the position of an appended event: one past the head was never given, so waiting is futile.
      if (relevant === 'beyond-head') throw tokenBeyondHead
      const effective = relevant === undefined || relevant > target ? target : relevant
      const remaining = Math.max(0, timeoutMs - (Date.now() - started))
      // Held events are events this projection handles, so none lies between `effective` and `target`.
      const waiting =
        key === undefined
          ? waiters.wait(effective, { timeoutMs: remaining, reached: () => view.settled })
          : rowWaiters.wait(effective, {
              timeoutMs: remaining,
              reached: () => rowReached(key),
              ready: () => rowReached(key) >= effective,
            })
      // The error names what the caller asked for, its token and its timeout, not the part of it left after
      // the lookup above (which made two identical requests' messages differ by a millisecond).
      await waiting.catch((error: unknown) => {
        throw error instanceof ConsistencyTimeoutError
          ? new ConsistencyTimeoutError(target, error.reached, timeoutMs)
          : error
      })
    },
    reached: (target, timeoutMs) => rowWaiters.wait(target, { timeoutMs, reached: () => view.position }),
    status(): ProjectionStatus {
      const position = view.position
      const remote = source.remote
      const caughtUp = remote && !remote.running ? remote.caughtUp : engine.caughtUp
      const state: ProjectionState = source.override ?? (caughtUp ? 'live' : 'catching-up')
      return {
        name: definition.name,
        state,
        position,
        ...lagAt(log, definition.name, position),
        ...(state === 'failed' && source.failure !== undefined ? { failure: source.failure } : {}),
        eventsProcessed: engine.eventsProcessed,
        deadLetters: engine.deadLetters().length,
        heldEvents: engine.heldEvents,
        version: engine.definition.version,
      }
    },
    async restart() {
      await engine.reset()
      feed.restart()
      view = { position: 0n, settled: 0n, held: new Map() }
    },
    switchTo(next) {
      engine.listener = undefined
      engine = next
      engine.listener = listener
      // Changes from before the switch describe the old model; resuming readers read the rows again.
      feed.truncate(engine.position)
      view = { position: -1n, settled: -1n, held: new Map() }
      const { position, settledPosition: settled, heldKeys: held } = engine
      advance({ position, settled, held }, true)
    },
    observe(next) {
      advance(next, true)
    },
  }
  return source
}

/**
 * Reads of the head asked for in one turn of the event loop (the aliased fields of one request) share one read,
 * which starts after all of them asked, so none sees a head from before an append it saw.
 */
function sharedReads(read: () => Promise<bigint>): () => Promise<bigint> {
  let queued: Promise<bigint> | undefined
  return () => {
    queued ??= Promise.resolve().then(() => {
      queued = undefined
      return read()
    })
    return queued
  }
}
