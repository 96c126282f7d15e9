import { afterEach, describe, expect, it } from 'vitest'
import type { RowChange } from '../../framework/read-model/read-model-source.ts'
import {
  charges,
  chargesOf,
  cleanups,
  devStores,
  eventually,
  startProcess,
  withDeadLetter,
  type ChargesRow,
} from './dead-letter-fixtures.ts'
import { charge } from './battery-fixtures.ts'
import { checkpointOf, keptMemoryDatabase } from './read-model-store-fixtures.ts'

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe('a dead letter', () => {
  it('holds back later events of the failing key only, while other keys go on', async () => {
    const { model, control } = await withDeadLetter({ on: true })
    expect(control.deadLetters()[0]).toMatchObject({
      key: 'b1',
      eventType: 'ChargeReported',
      attempts: 3,
      error: 'unlucky',
      heldBehind: 1,
    })
    expect(await chargesOf(model, 'b1')).toEqual([])
    expect(model.status()).toMatchObject({ deadLetters: 1, heldEvents: 2 })
  })

  it('folds the held events in order once it is retried successfully', async () => {
    const failing = { on: true }
    const { model, control } = await withDeadLetter(failing)
    failing.on = false
    expect(await control.retryDeadLetter(control.deadLetters()[0]!.id)).toBe(true)
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
    expect(control.deadLetters()).toEqual([])
    expect(model.status()).toMatchObject({ deadLetters: 0, heldEvents: 0 })
  })

  it('stays in the dead letters, its key still held, when a retry fails again', async () => {
    const { model, control } = await withDeadLetter({ on: true })
    expect(await control.retryDeadLetter(control.deadLetters()[0]!.id)).toBe(false)
    expect(control.deadLetters()).toHaveLength(1)
    expect(model.status().heldEvents).toBe(2)
  })

  it('releases its key when discarded, folding the events after it', async () => {
    const { model, control } = await withDeadLetter({ on: true })
    expect(await control.discardDeadLetter(control.deadLetters()[0]!.id)).toBe(true)
    expect(await chargesOf(model, 'b1')).toEqual([20])
    expect(model.status().heldEvents).toBe(0)
  })

  it('publishes the released events on the change feed to a reader that started while they were held', async () => {
    const failing = { on: true }
    const { model, control } = await withDeadLetter(failing)
    const signal = AbortSignal.timeout(5_000)
    const seen: RowChange<ChargesRow>[] = []
    const reading = (async () => {
      for await (const change of model.changes({ key: 'b1', signal })) if (seen.push(change) === 2) return
    })()
    failing.on = false
    await control.retryDeadLetter(control.deadLetters()[0]!.id)
    await reading
    expect(seen.map((change) => change.kind === 'updated' && change.row.charges)).toEqual([[13], [13, 20]])
  })
})

describe('a consistency token', () => {
  it('does not resolve while an event at or before it is held, and resolves once the dead letter is settled', async () => {
    const failing = { on: true }
    const { model, control, tokens } = await withDeadLetter(failing)
    await model.waitFor(tokens.b1Installed.position, 1_000)
    await expect(model.waitFor(tokens.b1Charged.position, 100)).rejects.toMatchObject({
      code: 'CONSISTENCY_TIMEOUT',
    })
    // Another key's token after the held event: the model is not up to date with the log through it either.
    await expect(model.waitFor(tokens.b2Charged.position, 100)).rejects.toMatchObject({
      code: 'CONSISTENCY_TIMEOUT',
    })
    const waiting = model.waitFor(tokens.b1Charged.position, 5_000)
    failing.on = false
    await control.retryDeadLetter(control.deadLetters()[0]!.id)
    await waiting
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
  })
})

describe('a restart of the process over a durable store', () => {
  it('folds the held events, in order, in the next process once the handler is fixed', async () => {
    const failing = { on: true }
    const database = keptMemoryDatabase()
    const first = await withDeadLetter(failing, database)
    const { store } = first
    await store.appendToStream('Battery-b1', [charge(21)])
    const b2Again = await store.appendToStream('Battery-b2', [charge(31)])
    await eventually(async () => expect(await chargesOf(first.model, 'b2')).toEqual([30, 31]))
    await first.readSide.stop()
    expect((await checkpointOf(database)).position).toBe(b2Again.position)

    failing.on = false
    const next = await startProcess(store, charges(failing), database)
    await next.model.waitFor(await store.headPosition(), 5_000)
    expect(await chargesOf(next.model, 'b1')).toEqual([13, 20, 21])
    expect(await chargesOf(next.model, 'b2')).toEqual([30, 31])
    expect(next.model.status()).toMatchObject({ deadLetters: 0, heldEvents: 0 })
    expect((await checkpointOf(database)).held).toEqual([])
  })

  it('holds the key again while the handler still fails, and keeps events that arrive meanwhile in order', async () => {
    const failing = { on: true }
    const database = keptMemoryDatabase()
    const first = await withDeadLetter(failing, database)
    const { store } = first
    const deadLetter = first.control.deadLetters()[0]!
    await first.readSide.stop()

    const second = await startProcess(store, charges(failing), database)
    await eventually(() =>
      expect(second.control.deadLetters()).toMatchObject([{ eventId: deadLetter.eventId }]),
    )
    await store.appendToStream('Battery-b1', [charge(22)])
    await store.appendToStream('Battery-b2', [charge(40)])
    await eventually(async () => expect(await chargesOf(second.model, 'b2')).toEqual([30, 40]))
    expect(await chargesOf(second.model, 'b1')).toEqual([])
    expect(second.model.status().heldEvents).toBe(3)
    await second.readSide.stop()

    failing.on = false
    const third = await startProcess(store, charges(failing), database)
    await third.model.waitFor(await store.headPosition(), 5_000)
    expect(await chargesOf(third.model, 'b1')).toEqual([13, 20, 22])
    expect(await chargesOf(third.model, 'b2')).toEqual([30, 40])
  })

  it('folds each held event once when the subscription drops while the next process reads them again', async () => {
    const failing = { on: true }
    const database = keptMemoryDatabase()
    const first = await withDeadLetter(failing, database)
    const { store } = first
    await store.appendToStream('Battery-b1', [charge(21)])
    await store.appendToStream('Battery-b2', [charge(31)])
    await eventually(async () => expect(await chargesOf(first.model, 'b2')).toEqual([30, 31]))
    await first.readSide.stop()

    failing.on = false
    let dropped = false
    const dropOnce = (percent: number) => {
      if (percent !== 20 || dropped) return
      dropped = true
      devStores[0]!.faults.dropAllSubscriptions()
    }
    const next = await startProcess(store, charges(failing, { onCharge: dropOnce }), database)
    await next.model.waitFor(await store.headPosition(), 5_000)
    expect(dropped).toBe(true)
    expect(await chargesOf(next.model, 'b1')).toEqual([13, 20, 21])
    expect(await chargesOf(next.model, 'b2')).toEqual([30, 31])
  })

  it('does not fold a discarded event again in the next process', async () => {
    const failing = { on: true }
    const database = keptMemoryDatabase()
    const first = await withDeadLetter(failing, database)
    await first.control.discardDeadLetter(first.control.deadLetters()[0]!.id)
    await first.readSide.stop()

    failing.on = false
    const next = await startProcess(first.store, charges(failing), database)
    await next.model.waitFor(await first.store.headPosition(), 5_000)
    expect(await chargesOf(next.model, 'b1')).toEqual([20])
    expect(await chargesOf(next.model, 'b2')).toEqual([30])
  })
})

describe('a reset or a rebuild', () => {
  it('a reset forgets the dead letters and folds the log again from the start', async () => {
    const failing = { on: true }
    const { store, model, control } = await withDeadLetter(failing)
    failing.on = false
    await control.reset()
    await model.waitFor(await store.headPosition(), 5_000)
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
    expect(model.status()).toMatchObject({ deadLetters: 0, heldEvents: 0 })
  })

  it('a rebuild with a fixed version switches to a model without the dead letter', async () => {
    const { store, model, control } = await withDeadLetter({ on: true })
    await control.rebuild(charges({ on: false }, { version: 2 }))
    await model.waitFor(await store.headPosition(), 5_000)
    expect(control.deadLetters()).toEqual([])
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
    expect(model.status()).toMatchObject({ version: 2, heldEvents: 0 })
  })
})
