import { AssertionError, deepStrictEqual } from 'node:assert'
import { AnnalsError, createInMemoryEventStore, type CommandBus } from '../../framework/index.ts'
import type { ProjectionDefinition } from '../define-projection.ts'
import { createReadSide } from '../create-read-side.ts'
import type { DeadLetter } from '../projection-engine.ts'
import { appendSpecEvent, SPEC_START, type SpecEvent } from '../../framework/internal.ts'

/** The rows a projection built from the given history: assert on them; each assertion returns the outcome. */
export interface ProjectionSpecOutcome<TRow> {
  /** Every row, by key. */
  readonly rows: ReadonlyMap<string, TRow>
  /** The events whose handler threw: the projection held them as dead letters and went on. */
  readonly deadLetters: readonly DeadLetter[]
  /** Asserts one row: equal to a value, or checked by a function. */
  thenRow(key: string, expected: TRow | ((row: TRow) => void)): ProjectionSpecOutcome<TRow>
  thenNoRow(key: string): ProjectionSpecOutcome<TRow>
  /** Asserts every row, in the order of their keys. */
  thenRows(expected: readonly TRow[]): ProjectionSpecOutcome<TRow>
}

export interface ProjectionSpec<TRow> {
  /** Folds the history, appended in order to an in-memory store, through the real projection runtime. */
  given(events: readonly SpecEvent[]): Promise<ProjectionSpecOutcome<TRow>>
}

export interface ProjectionSpecOptions {
  /** When the history happens (each event's `createdAt` unless it says `at`); default 2026-01-01T00:00:00Z. */
  readonly start?: Date
}

const noCommands: CommandBus = {
  execute: () => Promise.reject(new AnnalsError('BAD_CONFIG', 'A projection spec sends no commands')),
}

/**
 * Given/when/then specifications of a projection: given events, then these rows. The history runs through
 * the real read side (parsing and upcasting of stored events, row validation, dead letters) on an in-memory
 * store and in-memory read models; a handler that throws is held as a dead letter at once, with no retries.
 *
 * @example
 * const outcome = await projectionSpec(batteryStatus).given([
 *   { aggregateId: 'b1', type: 'BatteryInstalled', data: installed },
 *   { aggregateId: 'b1', type: 'ChargingStarted', data: { powerKw: 5 } },
 * ])
 * outcome.thenRow('b1', (row) => expect(row.status).toBe('charging'))
 */
export function projectionSpec<TRow>(
  definition: ProjectionDefinition<TRow>,
  options: ProjectionSpecOptions = {},
): ProjectionSpec<TRow> {
  return {
    async given(history) {
      let now = options.start ?? SPEC_START
      const store = createInMemoryEventStore({ now: () => now })
      const once: ProjectionDefinition<TRow> = { ...definition, retry: { attempts: 0 } }
      const readSide = await createReadSide({ projections: [once], database: 'memory' }).create({
        store,
        commands: noCommands,
        env: {},
      })
      try {
        await readSide.start()
        let last = 0n
        for (const event of history) {
          if (event.at) now = event.at
          const position = await appendSpecEvent(store, definition.from, definition.name, event)
          if (definition.eventTypes.includes(event.type)) last = position
        }
        const control = readSide.projection(definition.name)
        await control.reached(last)
        const rows: [string, TRow][] = []
        for (let after: string | undefined; ;) {
          const page = await control.source.list({ first: 100, ...(after === undefined ? {} : { after }) })
          for (const row of page.rows as TRow[])
            rows.push([String((row as Record<string, unknown>)[definition.key]), row])
          if (!page.hasNextPage || page.endCursor === undefined) break
          after = page.endCursor
        }
        rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        return outcome(new Map(rows), control.deadLetters())
      } finally {
        await readSide.stop()
        await store.close()
      }
    },
  }
}

function outcome<TRow>(
  rows: ReadonlyMap<string, TRow>,
  deadLetters: readonly DeadLetter[],
): ProjectionSpecOutcome<TRow> {
  const self: ProjectionSpecOutcome<TRow> = {
    rows,
    deadLetters,
    thenRow(key, expected) {
      const row = rows.get(key)
      if (row === undefined)
        throw new AssertionError({
          message: `No row ${key}; the rows are ${[...rows.keys()].join(', ') || 'none'}`,
        })
      if (typeof expected === 'function') (expected as (row: TRow) => void)(row)
      else deepStrictEqual(row, expected, `The row ${key}`)
      return self
    },
    thenNoRow(key) {
      if (rows.has(key))
        throw new AssertionError({
          message: `A row ${key} exists`,
          actual: rows.get(key),
          expected: undefined,
        })
      return self
    },
    thenRows(expected) {
      deepStrictEqual([...rows.values()], expected, 'The rows')
      return self
    },
  }
  return self
}
