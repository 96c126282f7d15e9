import { TRACEPARENT_KEY, type RowChange } from '../../framework/index.ts'
import type { ProjectionDefinition, RoutedEvent } from '../define-projection.ts'
import type { BatchChange, HeldKey, RowBatch } from './read-model-store.ts'

/**
 * The rows one batch of events works on: those the store held for the batch's keys, then the handlers'
 * results, and the changes they make, until the batch commits them together.
 */
export interface BatchRows<TRow> {
  /** The position the batch has reached: the committed one, then each event folded. */
  position: bigint
  /** Whether the changes are recorded (someone reads them, or the store keeps them). */
  readonly recordChanges: boolean
  /** Adds rows the store returned for keys not loaded yet. */
  loaded(rows: ReadonlyMap<string, TRow | undefined>, keys: readonly string[]): void
  /** The keys of `keys` not loaded yet. */
  missing(keys: Iterable<string>): string[]
  row(key: string): TRow | undefined
  set(key: string, row: TRow | undefined, change: RowChange<TRow>, late: boolean): void
  readonly changes: readonly BatchChange<TRow>[]
  /** How many rows the batch writes. */
  readonly writes: number
  /** The commit of the batch: its writes, its position, and the held keys when given. */
  toCommit(version: number, held: readonly HeldKey[] | undefined, caughtUp: boolean): RowBatch<TRow>
}

/** Starts a batch at the committed position. */
export function createBatchRows<TRow>(position: bigint, recordChanges: boolean): BatchRows<TRow> {
  const rows = new Map<string, TRow | undefined>()
  const writes = new Map<string, TRow | undefined>()
  const stored = new Set<string>()
  const changes: BatchChange<TRow>[] = []
  const batch: BatchRows<TRow> = {
    position,
    recordChanges,
    loaded(found, keys) {
      for (const key of keys) {
        if (rows.has(key)) continue
        const row = found.get(key)
        rows.set(key, row)
        if (row !== undefined) stored.add(key)
      }
    },
    missing(keys) {
      const missing: string[] = []
      for (const key of keys) if (!rows.has(key)) missing.push(key)
      return missing
    },
    row(key) {
      if (!rows.has(key)) throw new Error(`the row ${key} was not loaded for the batch`)
      return rows.get(key)
    },
    set(key, row, change, late) {
      rows.set(key, row)
      writes.set(key, row)
      if (recordChanges) changes.push({ change, late })
    },
    changes,
    get writes() {
      return writes.size
    },
    toCommit: (version, held, caughtUp) => ({
      writes,
      stored,
      position: batch.position,
      version,
      held,
      changes,
      changesSkipped: !recordChanges,
      caughtUp,
    }),
  }
  return batch
}

/** Runs handlers and writes their rows, counting what went in and what failed. */
export interface RowWriter<TRow> {
  readonly eventsProcessed: number
  readonly failures: number
  /** Runs the handler and writes its row into the batch; returns the error instead of throwing. */
  write(batch: BatchRows<TRow>, routed: RoutedEvent<TRow>, position: bigint): unknown
  reset(): void
}

/** Creates the step that folds one routed event into its row, checks the row and records the change. */
export function createRowWriter<TRow>(definition: ProjectionDefinition<TRow>): RowWriter<TRow> {
  let eventsProcessed = 0
  let failures = 0

  function write(batch: BatchRows<TRow>, routed: RoutedEvent<TRow>, position: bigint): unknown {
    const { key } = routed
    const current = batch.row(key)
    let next: TRow | null | undefined
    try {
      next = routed.handle(current, routed.event, routed.context)
      if (next !== null && next !== undefined) checkRow(definition, next, key)
    } catch (error) {
      failures++
      return error
    }
    eventsProcessed++
    if (next === undefined || next === current) return undefined
    if (next === null && current === undefined) return undefined
    // A late event (held, folded after the model moved on) is stamped with where the model is now.
    const late = position <= batch.position
    const at = late ? batch.position : position
    const stored = routed.context.metadata[TRACEPARENT_KEY]
    // Always present (undefined when untraced): one shape of change whether or not an SDK is registered.
    const traceparent = typeof stored === 'string' ? stored : undefined
    if (next === null)
      batch.set(key, undefined, { kind: 'deleted', key, previous: current!, position: at, traceparent }, late)
    else if (current === undefined)
      batch.set(key, next, { kind: 'created', key, row: next, position: at, traceparent }, late)
    else
      batch.set(
        key,
        next,
        { kind: 'updated', key, row: next, previous: current, position: at, traceparent },
        late,
      )
    return undefined
  }

  return {
    get eventsProcessed() {
      return eventsProcessed
    },
    get failures() {
      return failures
    },
    write,
    reset() {
      eventsProcessed = 0
      failures = 0
    },
  }
}

function checkRow<TRow>(definition: ProjectionDefinition<TRow>, row: TRow, key: string) {
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
