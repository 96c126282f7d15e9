import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { CommandBus } from '../../framework/command/command-bus.ts'
import type { EventStore, RecordedEvent } from '../../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { createTestClock, type TestClock } from '../../projections/workflows/test-clock.ts'
import { workflowStream, type WorkflowRecord } from '../../projections/workflows/workflow-records.ts'
import { collectAll, createTestCommandBus, saturatedThenFlaky } from '../projections/event-store-fixtures.ts'
import { openReadSide } from '../projections/read-side.fixture.ts'
import { SILENCE_MS, watchdog } from './watchdog.fixture.ts'

const start = Date.parse('2026-01-01T00:00:00Z')
const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

async function startWorkflows(
  store: EventStore,
  clock: TestClock,
  options: { commands?: CommandBus; ownsPartition?: (owner: string, partition: string) => boolean } = {},
) {
  const readSide = await openReadSide(store, {
    workflows: [watchdog],
    clock,
    resubscribeRetry: { initialDelayMs: 2, maxDelayMs: 10 },
    ...options,
  })
  running.push(readSide)
  await readSide.start()
  return { readSide, control: readSide.workflow('watchdog') }
}

async function stopped(readSide: ProjectionReadSide) {
  running.splice(running.indexOf(readSide), 1)
  await readSide.stop()
}

const install = (store: EventStore, id: string) =>
  store.appendToStream(`Battery-${id}`, [
    { id: randomUUID(), type: 'BatteryInstalled', data: { siteId: 's1', capacityKwh: 10 } },
  ])
const report = (store: EventStore, id: string, percent: number) =>
  store.appendToStream(`Battery-${id}`, [{ id: randomUUID(), type: 'ChargeReported', data: { percent } }])
const remove = (store: EventStore, id: string) =>
  store.appendToStream(`Battery-${id}`, [{ id: randomUUID(), type: 'BatteryRemoved', data: {} }])

const offlineOrders = async (store: EventStore, id: string) =>
  (await collectAll(store)).filter((e) => e.type === 'DischargeOrdered' && e.streamName === `Battery-${id}`)
const records = async (store: EventStore, id: string) => {
  const all: RecordedEvent[] = []
  for await (const event of store.readStream(workflowStream('watchdog', id))) all.push(event)
  return all
}
const firedRecords = async (store: EventStore, id: string) =>
  (await records(store, id)).filter((e) => e.type === 'WorkflowTimerFired')

describe('a workflow with durable timers', () => {
  it('fires a due timer once, records it with its lateness, and sends its command with a derived id', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const { control } = await startWorkflows(store, clock)
    await control.reached((await install(store, 'b1')).position)
    expect(control.pendingTimers()).toBe(1)

    clock.set(start + SILENCE_MS - 1)
    await control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(0)

    clock.set(start + SILENCE_MS + 250)
    await control.idle()
    clock.advance(10 * SILENCE_MS)
    await control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    const [fired] = await firedRecords(store, 'b1')
    expect((fired!.data as WorkflowRecord).trigger).toMatchObject({
      kind: 'timer',
      name: 'silence',
      latenessMs: 250,
    })
    expect(await control.instance('b1')).toMatchObject({ state: { reports: 0, silences: 1 }, timers: [] })
    expect(control.pendingTimers()).toBe(0)
  })

  it('never fires a cancelled timer, and a reset timer only from its last schedule', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const { control } = await startWorkflows(store, clock)
    await install(store, 'gone')
    await control.reached((await remove(store, 'gone')).position)
    await install(store, 'chatty')
    clock.set(start + SILENCE_MS / 2)
    await control.reached((await report(store, 'chatty', 40)).position)
    clock.set(start + SILENCE_MS + 1)
    await control.idle()
    expect(await offlineOrders(store, 'gone')).toHaveLength(0)
    expect(await offlineOrders(store, 'chatty')).toHaveLength(0)
    clock.set(start + SILENCE_MS * 1.5)
    await control.idle()
    expect(await offlineOrders(store, 'chatty')).toHaveLength(1)
    expect((await control.instance('gone'))?.status).toBe('completed')
  })

  it('fires a timer after a restart, once, late by the downtime', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const first = await startWorkflows(store, clock)
    await first.control.reached((await install(store, 'b1')).position)
    await stopped(first.readSide)

    // Every replica is down while the timer falls due, and for an hour after.
    clock.set(start + SILENCE_MS + 3_600_000)
    const second = await startWorkflows(store, clock)
    await second.control.reached((await report(store, 'other', 1)).position)
    await second.control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    const [fired] = await firedRecords(store, 'b1')
    expect((fired!.data as WorkflowRecord).trigger).toMatchObject({ latenessMs: 3_600_000 })

    // A third start finds the timer fired in its record and fires nothing.
    await stopped(second.readSide)
    const third = await startWorkflows(store, clock)
    await third.control.reached((await report(store, 'other', 2)).position)
    clock.advance(10 * SILENCE_MS)
    await third.control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
  })

  it('does not fire a fired timer again when the clock jumps backwards, before or after a restart', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const first = await startWorkflows(store, clock)
    await first.control.reached((await install(store, 'b1')).position)
    clock.set(start + SILENCE_MS)
    await first.control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)

    clock.set(start - SILENCE_MS)
    await first.control.idle()
    clock.set(start + SILENCE_MS)
    await first.control.idle()
    await stopped(first.readSide)
    const second = await startWorkflows(store, clock)
    await second.control.reached((await report(store, 'other', 1)).position)
    clock.set(start + 2 * SILENCE_MS)
    await second.control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    expect(await firedRecords(store, 'b1')).toHaveLength(1)
  })

  it('has its effect once when it crashes between sending a command and recording the firing', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const bus = createTestCommandBus(store)
    let crashed: Promise<void> | undefined
    const victim: { readSide?: ProjectionReadSide } = {}
    const crashing: CommandBus = {
      async execute(envelope) {
        await bus.execute(envelope)
        // The replica dies here: the command went in, the record of the firing did not.
        crashed = stopped(victim.readSide!)
        throw new Error('killed after the effect')
      },
    }
    const first = await startWorkflows(store, clock, { commands: crashing })
    victim.readSide = first.readSide
    await first.control.reached((await install(store, 'b1')).position)
    clock.set(start + SILENCE_MS)
    await first.control.idle()
    await crashed
    expect(crashed).toBeDefined()
    expect(await firedRecords(store, 'b1')).toHaveLength(0)

    const second = await startWorkflows(store, clock, { commands: bus })
    await second.control.reached((await report(store, 'other', 1)).position)
    await second.control.idle()
    expect(await firedRecords(store, 'b1')).toHaveLength(1)
    expect(bus.executed).toHaveLength(2)
    expect(bus.executed[0]!.commandId).toBe(bus.executed[1]!.commandId)
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
  })

  it('records one firing and has one effect when two replicas both believe they own the instance', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const bus = createTestCommandBus(store)
    const one = await startWorkflows(store, clock, { commands: bus })
    const other = await startWorkflows(store, clock, { commands: bus })
    const { position } = await install(store, 'b1')
    await Promise.all([one.control.reached(position), other.control.reached(position)])
    clock.set(start + SILENCE_MS)
    await Promise.all([one.control.idle(), other.control.idle()])
    expect(await firedRecords(store, 'b1')).toHaveLength(1)
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    expect((await one.control.instance('b1'))?.state).toEqual({ reports: 0, silences: 1 })
  })

  it('does not fire a timer that another writer cancelled in the record', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const { control } = await startWorkflows(store, clock)
    await control.reached((await install(store, 'b1')).position)
    const [last] = await records(store, 'b1')
    const record = last!.data as WorkflowRecord
    await store.appendToStream(workflowStream('watchdog', 'b1'), [
      {
        id: randomUUID(),
        type: 'WorkflowEventHandled',
        data: { ...record, snapshot: { ...record.snapshot, timers: [] } },
      },
    ])
    clock.set(start + SILENCE_MS)
    await control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(0)
    expect(await firedRecords(store, 'b1')).toHaveLength(0)
  })

  it('does not record a firing over a record another writer appended first', async () => {
    const inner = createInMemoryEventStore()
    const clock = createTestClock(start)
    const stream = workflowStream('watchdog', 'b1')
    let interleave = false
    // Another writer (an old owner, for the moment a ring change takes) cancels the timer just before this
    // replica's firing record goes in.
    const store: EventStore = {
      ...inner,
      readStream: inner.readStream.bind(inner),
      readAll: inner.readAll.bind(inner),
      subscribeToAll: inner.subscribeToAll.bind(inner),
      headPosition: inner.headPosition.bind(inner),
      getStreamMetadata: inner.getStreamMetadata.bind(inner),
      setStreamMetadata: inner.setStreamMetadata.bind(inner),
      close: inner.close.bind(inner),
      async appendToStream(name, events, options) {
        if (interleave && name === stream && events[0]?.type === 'WorkflowTimerFired') {
          interleave = false
          const [last] = await records(inner, 'b1')
          const record = last!.data as WorkflowRecord
          await inner.appendToStream(stream, [
            {
              id: randomUUID(),
              type: 'WorkflowEventHandled',
              data: { ...record, snapshot: { ...record.snapshot, timers: [] } },
            },
          ])
        }
        return inner.appendToStream(name, events, options)
      },
    }
    const { control } = await startWorkflows(store, clock)
    await control.reached((await install(store, 'b1')).position)
    interleave = true
    clock.set(start + SILENCE_MS)
    await control.idle()
    expect(interleave).toBe(false)
    expect(await firedRecords(store, 'b1')).toHaveLength(0)
    expect(await control.instance('b1')).toMatchObject({ timers: [] })
  })

  it('fires a timer later, once, when recording its firing failed with an error no retry is known to cure', async () => {
    const inner = createInMemoryEventStore()
    const clock = createTestClock(start)
    let refusals = 0
    // The store refuses the firing's record twice with an error that is neither a conflict nor "unavailable"
    // (as an unknown failure of the server answers); the timer must not be dropped until a restart.
    const store: EventStore = Object.assign(Object.create(inner) as EventStore, {
      async appendToStream(...args: Parameters<EventStore['appendToStream']>) {
        if (args[1][0]?.type === 'WorkflowTimerFired' && refusals < 2) {
          refusals++
          throw new Error('the server failed the append')
        }
        return inner.appendToStream(...args)
      },
    })
    const { control } = await startWorkflows(store, clock)
    await control.reached((await install(store, 'b1')).position)
    clock.set(start + SILENCE_MS)
    await vi.waitFor(
      async () => {
        clock.advance(1_000)
        await control.idle()
        expect(await firedRecords(store, 'b1')).toHaveLength(1)
      },
      { timeout: 10_000, interval: 20 },
    )
    expect(refusals).toBe(2)
    // The command it sent on each try carried the same derived id: one order.
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    expect(control.pendingTimers()).toBe(0)
  })

  it('fires no timer before catching up: an event written while it was down cancels it first', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const first = await startWorkflows(store, clock)
    await first.control.reached((await install(store, 'b1')).position)
    await stopped(first.readSide)
    await remove(store, 'b1')
    clock.set(start + 2 * SILENCE_MS)
    const second = await startWorkflows(store, clock)
    await second.control.reached((await report(store, 'other', 1)).position)
    await second.control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(0)
    expect((await second.control.instance('b1'))?.status).toBe('completed')
  })

  it('handles each event once per instance when the log is delivered again from the start', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const first = await startWorkflows(store, clock)
    await install(store, 'b1')
    await report(store, 'b1', 30)
    await first.control.reached((await report(store, 'b1', 40)).position)
    await stopped(first.readSide)
    // Lose every checkpoint: the next start reads the whole log again.
    for (const partition of ['0', '1']) {
      await store.appendToStream(`annals-workflows-watchdog-${partition}`, [
        { id: randomUUID(), type: 'WorkflowCheckpoint', data: { position: '0' } },
      ])
    }
    const second = await startWorkflows(store, clock)
    await second.control.reached((await report(store, 'other', 1)).position)
    expect(await second.control.instance('b1')).toMatchObject({ state: { reports: 2 } })
    expect((await records(store, 'b1')).map((e) => e.type)).toEqual([
      'WorkflowEventHandled',
      'WorkflowEventHandled',
      'WorkflowEventHandled',
    ])
  })

  it('arms the timers of all its partitions from one read of the workflow records', async () => {
    const inner = createInMemoryEventStore()
    const clock = createTestClock(start)
    await install(inner, 'b1')
    let recordReads = 0
    const store: EventStore = Object.assign(Object.create(inner) as EventStore, {
      readAll(...args: Parameters<EventStore['readAll']>) {
        if (args[0]?.eventTypes?.includes('WorkflowTimerFired')) recordReads++
        return inner.readAll(...args)
      },
    })
    const { control } = await startWorkflows(store, clock)
    await control.reached((await report(store, 'b1', 50)).position)
    expect(watchdog.partitions).toBeGreaterThan(1)
    expect(recordReads).toBe(1)
  })

  it('runs only the partitions this replica owns', async () => {
    const store = createInMemoryEventStore()
    const owned = new Set(['0'])
    const { readSide, control } = await startWorkflows(store, createTestClock(start), {
      ownsPartition: (owner, partition) => owner === 'workflow:watchdog' && owned.has(partition),
    })
    expect(control.partitions()).toEqual(['0'])
    owned.add('1')
    readSide.rebalance()
    expect([...control.partitions()].sort()).toEqual(['0', '1'])
  })
})

describe('a workflow reaction that throws', () => {
  it('holds its instance in the dead letters, queues what comes after, and goes on when discarded', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const { control } = await startWorkflows(store, clock)
    await install(store, 'b1')
    await report(store, 'b1', 13)
    await control.reached((await report(store, 'b1', 60)).position)
    const [letter, ...others] = await control.deadLetters()
    expect(others).toEqual([])
    expect(letter).toMatchObject({ workflowId: 'b1', error: 'unlucky report' })
    expect(letter!.trigger).toMatch(/^event ChargeReported at \d+$/)
    expect((await control.instance('b1'))?.status).toBe('held')

    // Held: its timer does not fire, and a retry that throws again leaves it held.
    clock.set(start + SILENCE_MS * 3)
    await control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(0)
    expect(await control.retryDeadLetter(letter!.id)).toBe(false)
    expect(await control.deadLetters()).toHaveLength(1)

    // Discarded: the report queued behind it is handled, and its timer fires as its time has passed.
    expect(await control.discardDeadLetter(letter!.id)).toBe(true)
    await control.idle()
    expect(await control.deadLetters()).toEqual([])
    expect(await control.instance('b1')).toMatchObject({ status: 'active', state: { reports: 1 } })
    clock.advance(SILENCE_MS)
    await control.idle()
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
  })

  it('waits out a saturated replica (OVERLOADED) without using up the retries of the reaction, and dead-letters nothing', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const bus = createTestCommandBus(store)
    // More refusals than the watchdog's one retry, then one failure of its own, within it.
    const saturated = saturatedThenFlaky(bus, 5, 1)
    const { control } = await startWorkflows(store, clock, { commands: saturated.bus })
    await control.reached((await install(store, 'b1')).position)
    clock.set(start + SILENCE_MS)
    await control.idle()
    expect(await control.deadLetters()).toEqual([])
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    expect(saturated.left.refusals).toBeLessThan(0)
  })

  it('goes on with the reaction itself when a retry succeeds', async () => {
    const store = createInMemoryEventStore()
    const clock = createTestClock(start)
    const bus = createTestCommandBus(store)
    let refusing = true
    const refusingBus: CommandBus = {
      execute: (envelope) =>
        refusing ? Promise.reject(new Error('the battery said no')) : bus.execute(envelope),
    }
    const { control } = await startWorkflows(store, clock, { commands: refusingBus })
    await control.reached((await install(store, 'b1')).position)
    clock.set(start + SILENCE_MS)
    await control.idle()
    const [letter] = await control.deadLetters()
    expect(letter).toMatchObject({ trigger: 'timer silence', error: 'the battery said no' })
    refusing = false
    expect(await control.retryDeadLetter(letter!.id)).toBe(true)
    expect(await control.deadLetters()).toEqual([])
    expect(await offlineOrders(store, 'b1')).toHaveLength(1)
    expect(await control.instance('b1')).toMatchObject({ status: 'active', state: { silences: 1 } })
  })
})
