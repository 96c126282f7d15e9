import type { z } from 'zod'

/**
 * The read-side port the GraphQL gateway consumes. annals/projections implements it; framework never imports
 * projections. A source is one read model: rows of a zod object schema, keyed by one field.
 */
export interface FieldFilter {
  readonly eq?: unknown
  readonly ne?: unknown
  readonly in?: readonly unknown[]
  readonly gt?: unknown
  readonly gte?: unknown
  readonly lt?: unknown
  readonly lte?: unknown
  /** Substring match for strings. */
  readonly contains?: string
}

export interface OrderBy {
  readonly field: string
  readonly direction: 'asc' | 'desc'
}

export interface ListQuery {
  readonly where?: Readonly<Record<string, FieldFilter>>
  readonly orderBy?: readonly OrderBy[]
  /** Page size; the source caps it. */
  readonly first?: number
  /** An opaque cursor from a previous page's `endCursor`. */
  readonly after?: string
}

export interface Page<TRow> {
  readonly rows: readonly TRow[]
  readonly endCursor: string | undefined
  readonly hasNextPage: boolean
  /** The position the read model was at when the page was read. */
  readonly position: bigint
}

export type RowChange<TRow> = (
  | { readonly kind: 'created'; readonly key: string; readonly row: TRow; readonly position: bigint }
  | {
      readonly kind: 'updated'
      readonly key: string
      readonly row: TRow
      readonly previous: TRow
      readonly position: bigint
    }
  | { readonly kind: 'deleted'; readonly key: string; readonly previous: TRow; readonly position: bigint }
) & {
  /**
   * The W3C traceparent stored with the event that made the change (the command that appended it), for the
   * span of the subscription frame it becomes; absent when that command was not traced.
   */
  readonly traceparent?: string | undefined
}

export interface ChangesOptions {
  /** Resume after this position; changes at or before it are not repeated. */
  readonly after?: bigint
  /** Only changes to this row. */
  readonly key?: string
  readonly where?: Readonly<Record<string, FieldFilter>>
  readonly signal?: AbortSignal
}

export type ProjectionState = 'catching-up' | 'live' | 'paused' | 'failed' | 'stopped'

export interface ProjectionStatus {
  readonly name: string
  /** 'failed': stopped for good on this replica until an operator resumes or rebuilds it (see docs/operations.md). */
  readonly state: ProjectionState
  /** Why it failed, while failed. */
  readonly failure?: string
  readonly position: bigint
  readonly eventsBehind: number
  readonly millisecondsBehind: number
  readonly eventsProcessed: number
  readonly deadLetters: number
  /** Events waiting behind dead letters and handler retries, not in the rows yet (absent: none). */
  readonly heldEvents?: number
  readonly version: number
}

export interface WaitForOptions {
  /** Wait for this row only: the log processed up to the position and none of the row's events held. */
  readonly key?: string
}

export interface ReadModelSource<TRow = Record<string, unknown>> {
  readonly name: string
  readonly description?: string
  /** The row schema (a zod object): the GraphQL type and filters derive from it. */
  readonly schema: z.ZodObject
  /** The field that keys a row. */
  readonly key: string
  get(key: string): Promise<TRow | undefined>
  list(query?: ListQuery): Promise<Page<TRow>>
  /** Every change in order, each stamped with the position of the event that caused it. */
  changes(options?: ChangesOptions): AsyncIterable<RowChange<TRow>>
  /**
   * Resolves once the model has processed the log up to `position`, every event before it folded in (none
   * held behind a dead letter); else CONSISTENCY_TIMEOUT. With `key`, only that row's events need be folded:
   * a dead letter of another key does not hold the wait back. An event discarded from the dead letters counts
   * as settled (it will never be in the row); one still held or retrying does not.
   */
  waitFor(position: bigint, timeoutMs: number, options?: WaitForOptions): Promise<void>
  status(): ProjectionStatus
}
