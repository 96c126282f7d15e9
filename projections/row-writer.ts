import type { RowChange } from '../framework/read-model/read-model-source.ts'
import type { ProjectionDefinition, RoutedEvent } from './define-projection.ts'
import type { ReadModelStore } from './read-model-store.ts'

/** Where a row writer reports a change; absent while the engine builds as a shadow. */
export interface RowChangeListener<TRow> {
  /** Whether anyone reads the changes now; while catching up unread, changes are not even built. */
  readonly reading: boolean
  /** A row changed; `late` when its event was held and the model had moved past it. */
  changed(change: RowChange<TRow>, late: boolean): void
  /** A change at `position` was left out: nobody read it while the model caught up. */
  skipped(position: bigint): void
}

export interface RowWriterOptions<TRow> {
  readonly definition: ProjectionDefinition<TRow>
  readonly store: ReadModelStore<TRow>
  listener(): RowChangeListener<TRow> | undefined
  caughtUp(): boolean
}

/** Runs handlers and writes their rows, counting what went in and what failed. */
export interface RowWriter<TRow> {
  readonly eventsProcessed: number
  readonly failures: number
  /** Runs the handler and writes its row; returns the error instead of throwing. */
  readonly write: (routed: RoutedEvent<TRow>, position: bigint) => unknown
  reset(): void
}

/** Creates the step that folds one routed event into its row, checks the row and reports the change. */
export function createRowWriter<TRow>(options: RowWriterOptions<TRow>): RowWriter<TRow> {
  const { definition, store } = options
  let eventsProcessed = 0
  let failures = 0

  function write(routed: RoutedEvent<TRow>, position: bigint): unknown {
    const { key } = routed
    const current = store.get(key)
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
    if (next === null) {
      if (current === undefined) return undefined
      store.delete(key)
    } else store.put(key, next)
    const listener = options.listener()
    if (listener === undefined) return undefined
    const late = position <= store.position
    const at = late ? store.position : position
    if (!options.caughtUp() && !listener.reading) listener.skipped(at)
    else if (next === null) listener.changed({ kind: 'deleted', key, previous: current!, position: at }, late)
    else if (current === undefined) listener.changed({ kind: 'created', key, row: next, position: at }, late)
    else listener.changed({ kind: 'updated', key, row: next, previous: current, position: at }, late)
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
