import type { ListQuery, RowChange } from '../../framework/index.ts'

/** One page of rows as a store returns it; the source adds the model's position. */
export interface StoredPage<TRow> {
  readonly rows: readonly TRow[]
  readonly endCursor: string | undefined
  readonly hasNextPage: boolean
}

/**
 * A key whose events wait behind a dead letter (or a handler still being retried) when a checkpoint is taken.
 * Its events from `position` on are not in the rows even though the checkpoint is past them; after a restart
 * the engine reads the log again from `after` and folds them, in order, skipping what the rows already hold.
 */
export interface HeldKey {
  /** The row key (as the handler routes it). */
  readonly key: string
  /** The position of the oldest event of this key that is not folded yet. */
  readonly position: bigint
  /** A position before it to read the log from again (a checkpoint the engine had reached). */
  readonly after: bigint
}

/** What a store has committed: where the rows stand, and the keys held back there. */
export interface Checkpoint {
  /** The position of the last event the rows reflect; 0n for an empty model. */
  readonly position: bigint
  /** The projection version the rows were built with; undefined for a model never written. */
  readonly version: number | undefined
  readonly held: readonly HeldKey[]
  /**
   * Built by another definition: `older` (another version or other columns) must be rebuilt before it runs;
   * `newer` was built by a newer version of the service, which this one must leave alone.
   */
  readonly stale?: 'older' | 'newer' | undefined
}

/** A change a batch made; `late` when its event was held and the model had moved past it. */
export interface BatchChange<TRow> {
  readonly change: RowChange<TRow>
  readonly late: boolean
}

/**
 * One batch of events folded: every row it changed (its final state; undefined deletes it), the checkpoint
 * and the held keys. A store commits it whole or not at all.
 */
export interface RowBatch<TRow> {
  readonly writes: ReadonlyMap<string, TRow | undefined>
  /** The keys whose rows the store held as the batch began: their writes update, any other inserts. */
  readonly stored: ReadonlySet<string>
  readonly position: bigint
  readonly version: number
  /** The held keys as of this checkpoint; undefined keeps those of the last commit. */
  readonly held: readonly HeldKey[] | undefined
  /** The changes the batch made, in order, for a store that keeps the change feed durably. */
  readonly changes: readonly BatchChange<TRow>[]
  /** True when the batch's changes were not recorded (a model built from scratch): a resume before it expires. */
  readonly changesSkipped: boolean
  /** Whether the model has reached the head of the log (once it has, replicas that read it are ready). */
  readonly caughtUp: boolean
}

/**
 * Where a projection keeps its rows, its checkpoint and its held keys, so that the three never disagree:
 * the engine loads the rows a batch of events touches, folds the batch in memory, and commits the batch's
 * writes with the checkpoint in one step. In memory that step is a few map writes; in PostgreSQL it is one
 * transaction.
 */
export interface ReadModelStore<TRow> {
  /** The committed checkpoint: where a model resumes after a start or a failed commit. */
  open(): Promise<Checkpoint>
  /** The committed rows of these keys (absent keys have no row). */
  load(keys: readonly string[]): Promise<ReadonlyMap<string, TRow>>
  /** Commits a batch whole; a store that is unreachable, fenced or refuses a row rejects and keeps nothing. */
  commit(batch: RowBatch<TRow>): Promise<void>
  get(key: string): Promise<TRow | undefined>
  list(query: ListQuery): Promise<StoredPage<TRow>>
  /** Forgets every row and the checkpoint (held keys too): the model starts again from the beginning of the log. */
  clear(): Promise<void>
}

/** A store refused a row (PostgreSQL: a NUL character, a value too large for its index): the store's reason. */
export class RowRefusedError extends Error {
  override readonly name = 'RowRefusedError'
}

/** Whether an error is a row the store refused, not a fault of the store. */
export function isRowRefused(error: unknown): error is RowRefusedError {
  return error instanceof RowRefusedError
}
