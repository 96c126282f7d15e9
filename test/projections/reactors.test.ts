import { randomUUID } from 'node:crypto'
import { afterEach, describe, expect, it } from 'vitest'
import type { CommandBus } from '../../framework/command/command-bus.ts'
import { StoreUnavailableError } from '../../framework/errors.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineReactor } from '../../projections/reactors/define-reactor.ts'
import { reactorCheckpointStream } from '../../projections/reactors/reactor-partition.ts'
import {
  Battery,
  batteryStatus,
  charge,
  Grid,
  installed,
  noise,
  type BatteryStatusRow,
} from './battery-fixtures.ts'
import { collectAll, createTestCommandBus, saturatedThenFlaky } from './event-store-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

/** Answers a grid demand by ordering every battery charged to 50% or more to discharge. */
const dispatcher = defineReactor({
  name: 'dispatcher',
  from: [Grid],
  partitions: 2,
  partitionBy: (_event, gridId) => gridId,
  handlers: {
    DemandRaised: async ({ data }, ctx) => {
      const fleet = ctx.readModel<BatteryStatusRow>('batteryStatus')
      await fleet.waitFor(ctx.position, 5_000)
      const page = await fleet.list({
        where: { percent: { gte: 50 } },
        orderBy: [{ field: 'batteryId', direction: 'asc' }],
      })
      for (const row of page.rows) {
        await ctx.send({
          aggregate: Battery,
          command: 'orderDischarge',
          aggregateId: row.batteryId,
          input: { kw: data.kw },
        })
      }
    },
  },
})

const partitionOfGrid = (grid: string) =>
  dispatcher.partitionOf({
    streamName: `Grid-${grid}`,
    type: 'DemandRaised',
    data: { kw: 1 },
    metadata: {},
  } as never)

const demand = (kw: number) => ({ id: randomUUID(), type: 'DemandRaised', data: { kw } })

const running: ProjectionReadSide[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((readSide) => readSide.stop()))
})

async function startReadSide(
  store: EventStore,
  commands: CommandBus,
  ownsPartition?: (reactor: string, partition: string) => boolean,
) {
  const readSide = await openReadSide(store, {
    commands,
    projections: [batteryStatus()],
    reactors: [dispatcher],
    resubscribeRetry: { initialDelayMs: 2, maxDelayMs: 10 },
    handlerRetry: { attempts: 3, initialDelayMs: 2, maxDelayMs: 10 },
    ...(ownsPartition ? { ownsPartition } : {}),
  })
  running.push(readSide)
  return readSide
}

async function fleet(store: EventStore) {
  await store.appendToStream('Battery-b1', [installed('s1'), charge(80)])
  await store.appendToStream('Battery-b2', [installed('s1'), charge(20)])
  await store.appendToStream('Battery-b3', [installed('s2'), charge(55)])
}

const discharges = async (store: EventStore) =>
  (await collectAll(store))
    .filter((event) => event.type === 'DischargeOrdered')
    .map((event) => event.streamName)

/** Resolves once each demand's partition has checkpointed its position (bounded: fails after 5 s). */
async function checkpointed(store: EventStore, demands: readonly { grid: string; position: bigint }[]) {
  const pending = new Map<string, bigint>()
  for (const { grid, position } of demands) {
    const partition = partitionOfGrid(grid)
    if ((pending.get(partition) ?? 0n) < position) pending.set(partition, position)
  }
  const signal = AbortSignal.timeout(5_000)
  for await (const message of store.subscribeToAll({ eventTypes: ['ReactorCheckpoint'], signal })) {
    if (message.kind !== 'event') continue
    for (const [partition, position] of pending) {
      if (message.event.streamName !== reactorCheckpointStream('dispatcher', partition)) continue
      if (BigInt((message.event.data as { position: string }).position) >= position) pending.delete(partition)
    }
    if (pending.size === 0) return
  }
  throw new Error(`no checkpoint reached ${[...pending].join(', ')}`)
}

describe('a reactor', () => {
  it('sends a command per target, reading a projection, and checkpoints in a capped stream', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const readSide = await startReadSide(store, createTestCommandBus(store))
    await readSide.start()
    const { position } = await store.appendToStream('Grid-g1', [demand(5)])
    await checkpointed(store, [{ grid: 'g1', position }])
    expect((await discharges(store)).sort()).toEqual(['Battery-b1', 'Battery-b3'])
    const stream = reactorCheckpointStream('dispatcher', partitionOfGrid('g1'))
    expect((await store.getStreamMetadata(stream))?.$maxCount).toBeGreaterThan(0)
  })

  it('has its effect once when the process crashes between the effect and the checkpoint', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const bus = createTestCommandBus(store)
    let crash = () => {}
    const crashed = new Promise<void>((resolve) => (crash = resolve))
    let effects = 0
    const crashingBus: CommandBus = {
      async execute(envelope) {
        const result = await bus.execute(envelope)
        if (effects++ === 0) crash() // the process dies after the effect, before the checkpoint is written
        return result
      },
    }
    const first = await startReadSide(store, crashingBus)
    void crashed.then(() => first.stop())
    await first.start()
    const { position } = await store.appendToStream('Grid-g1', [demand(5)])
    await crashed
    await first.stop()
    const restarted = await startReadSide(store, bus)
    await restarted.start()
    await checkpointed(store, [{ grid: 'g1', position }])
    // b1's discharge was sent before the crash and again after it, with the same command id.
    const toB1 = bus.executed.filter((envelope) => envelope.aggregateId === 'b1')
    expect(toB1).toHaveLength(2)
    expect(toB1[0]!.commandId).toBe(toB1[1]!.commandId)
    expect((await discharges(store)).sort()).toEqual(['Battery-b1', 'Battery-b3'])
  })

  it('writes its checkpoint per run of events rather than per event, and once it has caught up', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const demands = Array.from({ length: 300 }, (_, n) => demand(n + 1))
    const { position } = await store.appendToStream('Grid-g1', demands)
    const readSide = await startReadSide(store, createTestCommandBus(store))
    await readSide.start()
    await checkpointed(store, [{ grid: 'g1', position }])
    expect(await discharges(store)).toHaveLength(600)
    const written = (await collectAll(store)).filter((event) => event.type === 'ReactorCheckpoint')
    expect(written.length).toBeGreaterThan(0)
    expect(written.length).toBeLessThanOrEqual(4)
  })

  it('reacts to each event once across dropped subscriptions and a store that is briefly unavailable', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const bus = createTestCommandBus(store)
    let unavailable = 2
    const flakyBus: CommandBus = {
      execute(envelope) {
        if (unavailable-- > 0) return Promise.reject(new StoreUnavailableError('injected'))
        return bus.execute(envelope)
      },
    }
    const readSide = await startReadSide(store, flakyBus)
    await readSide.start()
    const demands: { grid: string; position: bigint }[] = []
    for (let n = 0; n < 6; n++) {
      const { position } = await store.appendToStream(`Grid-g${n}`, [demand(n + 1)])
      await store.appendToStream(`Grid-g${n}`, [noise(n)])
      demands.push({ grid: `g${n}`, position })
      if (n % 2 === 0) store.dropSubscriptions()
    }
    await checkpointed(store, demands)
    const perBattery = (await collectAll(store)).filter((event) => event.type === 'DischargeOrdered')
    expect(perBattery.map((event) => event.data)).toHaveLength(12)
    expect(
      new Set(perBattery.map((event) => `${event.streamName}/${String((event.data as { kw: number }).kw)}`))
        .size,
    ).toBe(12)
  })

  it('waits out a saturated replica (OVERLOADED) without using up its handler retries, and dead-letters nothing', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const bus = createTestCommandBus(store)
    // More refusals in a row than the handler's three retries (as failures of the handler, the event would go to
    // the dead letters), then two failures of its own, within its retries once the waits are not counted.
    const saturated = saturatedThenFlaky(bus, 5, 2)
    const readSide = await startReadSide(store, saturated.bus)
    await readSide.start()
    const { position } = await store.appendToStream('Grid-g1', [demand(5)])
    await checkpointed(store, [{ grid: 'g1', position }])
    expect((await discharges(store)).sort()).toEqual(['Battery-b1', 'Battery-b3'])
    expect(await readSide.reactor('dispatcher').deadLetters()).toEqual([])
  })

  it('runs only the partitions this replica owns, and takes over others on rebalance', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const owned = new Set(['0'])
    const readSide = await startReadSide(store, createTestCommandBus(store), (_reactor, partition) =>
      owned.has(partition),
    )
    await readSide.start()
    expect(readSide.reactor('dispatcher').partitions()).toEqual(['0'])
    owned.add('1')
    owned.delete('0')
    readSide.rebalance()
    expect(readSide.reactor('dispatcher').partitions()).toEqual(['1'])
  })

  it('keeps the events it gave up on across a restart, and retries or discards them', async () => {
    const store = createInMemoryEventStore()
    await fleet(store)
    const bus = createTestCommandBus(store)
    let refusing = true
    const refusingBus: CommandBus = {
      execute: (envelope) =>
        refusing ? Promise.reject(new Error('the battery said no')) : bus.execute(envelope),
    }
    const first = await startReadSide(store, refusingBus)
    await first.start()
    const g1 = await store.appendToStream('Grid-g1', [demand(5)])
    const g2 = await store.appendToStream('Grid-g2', [demand(6)])
    await checkpointed(store, [
      { grid: 'g1', position: g1.position },
      { grid: 'g2', position: g2.position },
    ])
    await first.stop()

    refusing = false
    const restarted = await startReadSide(store, refusingBus)
    await restarted.start()
    const control = restarted.reactor('dispatcher')
    const letters = await control.deadLetters()
    expect(letters.map((letter) => [letter.position, letter.error])).toEqual([
      [g1.position, 'the battery said no'],
      [g2.position, 'the battery said no'],
    ])
    expect(await control.retryDeadLetter(letters[0]!.id)).toBe(true)
    expect(await control.discardDeadLetter(letters[1]!.id)).toBe(true)
    expect(await control.deadLetters()).toEqual([])
    expect((await discharges(store)).sort()).toEqual(['Battery-b1', 'Battery-b3'])
  })
})
