import { expect, vi } from 'vitest'
import { z } from 'zod'
import { createDevStore, type DevStore } from '../../devstore/index.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../../framework/event-store/eventstoredb-event-store.ts'
import type { ReadModelSource } from '../../framework/read-model/read-model-source.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { Battery, charge, installed } from './battery-fixtures.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { openReadSide } from './read-side.fixture.ts'

/** What a test started and must stop; a test file runs them after each test (last started, first stopped). */
export const cleanups: (() => Promise<void>)[] = []

/** The devstores the running test started, for fault injection. */
export const devStores: DevStore[] = []

/** One row per battery with the charges folded into it, in the order they were folded. */
export const ChargesRow = z.object({ batteryId: z.string(), charges: z.array(z.number()) })
export type ChargesRow = z.infer<typeof ChargesRow>

/** A model whose handler throws on a charge of 13 while `failing.on` is set. */
export function charges(
  failing: { on: boolean },
  options: { version?: number; onCharge?: (percent: number) => void } = {},
) {
  return defineProjection({
    name: 'charges',
    row: ChargesRow,
    key: 'batteryId',
    from: [Battery],
    version: options.version ?? 1,
    retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 2 },
    handlers: {
      BatteryInstalled: (_row, _event, { key }): ChargesRow => ({ batteryId: key, charges: [] }),
      ChargeReported: (row, { data }): ChargesRow | undefined => {
        options.onCharge?.(data.percent)
        if (failing.on && data.percent === 13) throw new Error('unlucky')
        return row && { ...row, charges: [...row.charges, data.percent] }
      },
    },
  })
}

/** Starts a devstore on a free loopback port and a client of it, both stopped after the test. */
export async function devStoreClient(): Promise<EventStore> {
  const devStore = await createDevStore({ port: 0 })
  devStores.push(devStore)
  const store = createEventStoreDbStore(devStore.connectionString)
  cleanups.push(async () => {
    devStores.splice(devStores.indexOf(devStore), 1)
    await store.close()
    await devStore.close()
  })
  return store
}

/** Starts a read side over one projection: what one process of the service runs, on `database` when given. */
export async function startProcess(
  store: EventStore,
  projection: ReturnType<typeof charges>,
  database?: ReadModelDatabase,
) {
  const readSide: ProjectionReadSide = await openReadSide(store, {
    projections: [projection],
    ...(database ? { database } : {}),
  })
  cleanups.push(() => readSide.stop())
  await readSide.start()
  const model = readSide.sources[0] as ReadModelSource<ChargesRow>
  return { readSide, model, control: readSide.projection('charges') }
}

export const chargesOf = async (model: ReadModelSource<ChargesRow>, key: string) =>
  (await model.get(key))?.charges

/** Waits, by polling the model, until it holds what `check` expects (positions cannot say when a retry gave up). */
export const eventually = (check: () => Promise<void> | void) =>
  vi.waitFor(check, { timeout: 5_000, interval: 5 })

/**
 * b1 and b2 are installed; b1 reports 13 (which the handler refuses) and 20; b2 reports 30. Resolves once
 * 13 is in the dead letters, 20 is held behind it, and b2 has gone on.
 */
export async function withDeadLetter(failing: { on: boolean }, database?: ReadModelDatabase) {
  failing.on = true
  const store = await devStoreClient()
  const running = await startProcess(store, charges(failing), database)
  const b1Installed = await store.appendToStream('Battery-b1', [installed('s1')])
  await store.appendToStream('Battery-b2', [installed('s1')])
  const b1Charged = await store.appendToStream('Battery-b1', [charge(13), charge(20)])
  const b2Charged = await store.appendToStream('Battery-b2', [charge(30)])
  await eventually(async () => {
    expect(running.control.deadLetters()).toHaveLength(1)
    expect(await chargesOf(running.model, 'b2')).toEqual([30])
  })
  return { store, ...running, tokens: { b1Installed, b1Charged, b2Charged } }
}
