import type { ListQuery } from '../framework/read-model/read-model-source.ts'

/** One page of rows as a store returns it; the source adds the model's position. */
export interface StoredPage<TRow> {
  readonly rows: readonly TRow[]
  readonly endCursor: string | undefined
  readonly hasNextPage: boolean
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
  /** Records that the rows reflect the log up to `position`. */
  commit(position: bigint, version: number): void
  list(query: ListQuery): StoredPage<TRow>
  /** Forgets every row and the checkpoint: the model starts again from the beginning of the log. */
  clear(): void
}
