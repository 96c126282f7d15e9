import type { ListQuery } from '../framework/read-model/read-model-source.ts'

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

/**
 * Where a projection keeps its rows and its checkpoint (the position the rows reflect), so that the two
 * never disagree. The runner calls it synchronously, one event at a time; a durable store keeps a write-behind
 * cache in front of its database and flushes rows and checkpoint together.
 */
export interface ReadModelStore<TRow> {
  /** The position of the last event the rows reflect; 0n for an empty model. */
  readonly position: bigint
  /** The projection version the rows were built with; undefined for a model never written. */
  readonly version: number | undefined
  readonly size: number
  get(key: string): TRow | undefined
  put(key: string, row: TRow): void
  delete(key: string): void
  /**
   * The held keys as the last commit gave them: a durable store saves them with the checkpoint and returns
   * them after a restart, so that no held event is lost. A store that starts empty on each start leaves it out.
   */
  readonly held?: readonly HeldKey[]
  /** Records that the rows reflect the log up to `position`; `held`, when given, replaces the held keys. */
  commit(position: bigint, version: number, held?: readonly HeldKey[]): void
  list(query: ListQuery): StoredPage<TRow>
  /** Forgets every row and the checkpoint (held keys too): the model starts again from the beginning of the log. */
  clear(): void
}
