import { afterEach, describe, expect, it } from 'vitest'
import {
  charges,
  chargesOf,
  cleanups,
  eventually,
  startProcess,
  withDeadLetter,
} from './dead-letter-fixtures.ts'
import { charge, installed } from './battery-fixtures.ts'
import { keptMemoryDatabase } from './read-model-store-fixtures.ts'

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const timedOut = { code: 'CONSISTENCY_TIMEOUT' }

/**
 * The dead letter of b1 (see withDeadLetter), and b3 poisoned the same way after it, so that the model as a
 * whole stays behind a dead letter even once b1's is settled. `token` is b3's, after every held event.
 */
async function withTwoDeadLetters() {
  const failing = { on: true }
  const running = await withDeadLetter(failing)
  const { store, control } = running
  const b3Charged = await store.appendToStream('Battery-b3', [installed('s1'), charge(13)])
  await eventually(() => expect(control.deadLetters()).toHaveLength(2))
  const b1DeadLetter = control.deadLetters().find((deadLetter) => deadLetter.key === 'b1')!
  return { ...running, failing, token: b3Charged.position, b1DeadLetter }
}

describe('a consistency token for one row', () => {
  it('resolves for a row of another key while a dead letter holds a key back', async () => {
    const { store, model, tokens } = await withDeadLetter({ on: true })
    await model.waitFor(tokens.b2Charged.position, 2_000, { key: 'b2' })
    const later = await store.appendToStream('Battery-b2', [charge(31)])
    await model.waitFor(later.position, 2_000, { key: 'b2' })
    expect(await chargesOf(model, 'b2')).toEqual([30, 31])
  })

  it('resolves for the held key at a token before its held events', async () => {
    const { model, tokens } = await withDeadLetter({ on: true })
    await model.waitFor(tokens.b1Installed.position, 2_000, { key: 'b1' })
    expect(await chargesOf(model, 'b1')).toEqual([])
  })

  it('times out for the held key, and without a key, at a token after its held events', async () => {
    const { model, tokens } = await withDeadLetter({ on: true })
    const token = tokens.b2Charged.position
    await expect(model.waitFor(token, 100, { key: 'b1' })).rejects.toMatchObject(timedOut)
    await expect(model.waitFor(token, 100)).rejects.toMatchObject(timedOut)
  })

  it('resolves for the held key once its dead letter is retried successfully, while another stays dead', async () => {
    const { store, model, control, failing, token, b1DeadLetter } = await withTwoDeadLetters()
    const waiting = model.waitFor(token, 2_000, { key: 'b1' })
    await expect(model.waitFor(token, 100, { key: 'b1' })).rejects.toMatchObject(timedOut)
    // Events of other keys go on meanwhile: the waiter stays asleep behind b1's held events.
    const other = await store.appendToStream('Battery-b2', [charge(31)])
    await model.waitFor(other.position, 2_000, { key: 'b2' })
    failing.on = false
    expect(await control.retryDeadLetter(b1DeadLetter.id)).toBe(true)
    await waiting
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
    // b3 is still held: a read of the whole model (a list) still waits for it.
    await expect(model.waitFor(token, 100)).rejects.toMatchObject(timedOut)
    await expect(model.waitFor(token, 100, { key: 'b3' })).rejects.toMatchObject(timedOut)
  })

  it('resolves for the held key once its dead letter is discarded: the discarded event counts as settled', async () => {
    const { model, control, token, b1DeadLetter } = await withTwoDeadLetters()
    const waiting = model.waitFor(token, 2_000, { key: 'b1' })
    expect(await control.discardDeadLetter(b1DeadLetter.id)).toBe(true)
    await waiting
    expect(await chargesOf(model, 'b1')).toEqual([20])
    await expect(model.waitFor(token, 100)).rejects.toMatchObject(timedOut)
  })

  it('times out for the held key while a retry fails again', async () => {
    const { model, control, token, b1DeadLetter } = await withTwoDeadLetters()
    const waiting = model.waitFor(token, 300, { key: 'b1' })
    expect(await control.retryDeadLetter(b1DeadLetter.id)).toBe(false)
    await expect(waiting).rejects.toMatchObject(timedOut)
  })

  it('resolves for the held key once a rebuild with a fixed handler switches in', async () => {
    const { model, control, token } = await withTwoDeadLetters()
    const waiting = model.waitFor(token, 5_000, { key: 'b1' })
    await control.rebuild(charges({ on: false }, { version: 2 }))
    await waiting
    expect(await chargesOf(model, 'b1')).toEqual([13, 20])
  })
})

describe('a consistency token for one row after a restart over a durable store', () => {
  it('resolves for another key and times out for the key held again, then resolves once it is retried', async () => {
    const failing = { on: true }
    const database = keptMemoryDatabase()
    const first = await withDeadLetter(failing, database)
    const { store } = first
    await first.readSide.stop()

    const next = await startProcess(store, charges(failing), database)
    const b2Again = await store.appendToStream('Battery-b2', [charge(31)])
    await next.model.waitFor(b2Again.position, 2_000, { key: 'b2' })
    expect(await chargesOf(next.model, 'b2')).toEqual([30, 31])
    await expect(next.model.waitFor(b2Again.position, 100, { key: 'b1' })).rejects.toMatchObject(timedOut)
    await eventually(() => expect(next.control.deadLetters()).toHaveLength(1))
    failing.on = false
    const waiting = next.model.waitFor(b2Again.position, 2_000, { key: 'b1' })
    expect(await next.control.retryDeadLetter(next.control.deadLetters()[0]!.id)).toBe(true)
    await waiting
    expect(await chargesOf(next.model, 'b1')).toEqual([13, 20])
  })
})
