import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { createDevStore } from '../devstore/index.ts'
import { counterAggregate } from '../framework/aggregate/counter.fixture.ts'
import type { CommandBus } from '../framework/command/command-bus.ts'
import { createCommandBus } from '../framework/command/create-command-bus.ts'
import { executeCommand } from '../framework/command/execute-command.ts'
import { loadAggregate } from '../framework/command/load-aggregate.ts'
import { ConcurrencyConflictError } from '../framework/errors.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { createCluster } from '../framework/sharding/create-cluster.ts'
import type { Bench, BenchResult } from './run.ts'

const Counter = counterAggregate()
const CONCURRENCY = 64
const ROUNDS = 12
const COMMANDS_PER_ROUND = 2000
const DEVSTORE_ROUNDS = 4
const DEVSTORE_COMMANDS_PER_ROUND = 500

/** A store (in memory unless given) that counts the appends refused as conflicts. */
function conflictCountingStore(inner: EventStore = createInMemoryEventStore()) {
  const counts = { conflicts: 0 }
  const store: EventStore = {
    ...inner,
    async appendToStream(name, events, options) {
      try {
        return await inner.appendToStream(name, events, options)
      } catch (error) {
        if (error instanceof ConcurrencyConflictError) counts.conflicts++
        throw error
      }
    },
  }
  return { store, counts }
}

/** `count` commands to one aggregate, CONCURRENCY in flight; returns ms and how many were refused. */
async function concurrently(bus: CommandBus, id: string, count: number) {
  let next = 0
  let failed = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      // The same per-command work as the sequential writer: one literal with a fresh id, no extra promise
      // (a spread of a shared envelope into each command cost the driver microseconds the writer never pays).
      while (next++ < count) {
        const commandId = randomUUID()
        try {
          await bus.execute({
            aggregate: 'Counter',
            command: 'increment',
            aggregateId: id,
            input: { by: 1 },
            commandId,
          })
        } catch {
          failed++
        }
      }
    }),
  )
  return { ms: performance.now() - started, failed }
}

async function sequentialWriter(store: EventStore, id: string, count: number) {
  let loaded = await loadAggregate(store, Counter, id)
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const input = { by: 1 }
    loaded = await executeCommand({
      store,
      aggregate: Counter,
      id,
      command: 'increment',
      input,
      commandId: randomUUID(),
      loaded,
    })
  }
  return performance.now() - started
}

async function startRouter(store: EventStore) {
  const http = Fastify({ logger: false })
  const cluster = await createCluster({ env: {} }).create({
    store,
    aggregates: [Counter],
    http,
    selfUrl: 'http://127.0.0.1:1',
  })
  return {
    commands: cluster.commands,
    /** Commands decided per append so far: the mean group size the mailbox formed. */
    groupSize: () => {
      const { appends, appendedCommands } = cluster.status()
      return appends === 0 ? 0 : appendedCommands / appends
    },
    async close() {
      await cluster.close()
      await http.close()
    },
  }
}

/**
 * The same load over the devstore (gRPC on loopback, as EventStoreDB would be reached): a group of commands
 * is one round trip, where the sequential writer pays one per command.
 */
async function overDevstore(): Promise<BenchResult> {
  const devstore = await createDevStore()
  const routedStore = conflictCountingStore(createEventStoreDbStore(devstore.connectionString))
  const writerStore = conflictCountingStore(createEventStoreDbStore(devstore.connectionString))
  const router = await startRouter(routedStore.store)
  let routerMs = 0
  let writerMs = 0
  let failed = 0
  let groupSize = 0
  try {
    await concurrently(router.commands, 'dev-warm-up', DEVSTORE_COMMANDS_PER_ROUND)
    await sequentialWriter(writerStore.store, 'dev-warm-up', DEVSTORE_COMMANDS_PER_ROUND)
    for (let round = 0; round < DEVSTORE_ROUNDS; round++) {
      const id = `dev-hot-${round}`
      if (round % 2 === 1)
        writerMs += await sequentialWriter(writerStore.store, id, DEVSTORE_COMMANDS_PER_ROUND)
      const viaRouter = await concurrently(router.commands, id, DEVSTORE_COMMANDS_PER_ROUND)
      routerMs += viaRouter.ms
      failed += viaRouter.failed
      if (round % 2 === 0)
        writerMs += await sequentialWriter(writerStore.store, id, DEVSTORE_COMMANDS_PER_ROUND)
    }
    groupSize = router.groupSize()
  } finally {
    await router.close()
    await routedStore.store.close()
    await writerStore.store.close()
    await devstore.close()
  }
  const commands = DEVSTORE_ROUNDS * DEVSTORE_COMMANDS_PER_ROUND
  const routerRate = commands / (routerMs / 1000)
  const writerRate = commands / (writerMs / 1000)
  return {
    figure: { label: 'router over devstore', value: Math.round(routerRate), unit: 'commands/s' },
    baseline: { label: 'sequential writer over devstore', value: Math.round(writerRate), unit: 'commands/s' },
    ratio: routerRate / writerRate,
    notes:
      `${commands} commands each side, ${CONCURRENCY} in flight to one aggregate, appends over gRPC to the devstore ` +
      `in this process: router ${routedStore.counts.conflicts} conflicts, ${failed} failed, ` +
      `${groupSize.toFixed(1)} commands per append`,
  }
}

async function inMemory(): Promise<BenchResult> {
  const routed = conflictCountingStore()
  const cluster = await startRouter(routed.store)
  const plain = conflictCountingStore()
  const bus = createCommandBus({ store: plain.store, aggregates: [Counter] })
  // The same counting wrapper on every side, so none pays for it alone.
  const sequential = conflictCountingStore().store
  const ratios: number[] = []
  let routerMs = 0
  let writerMs = 0
  let plainMs = 0
  let plainFailed = 0
  let routerFailed = 0
  let groupSize = 0
  try {
    for (let i = 0; i < 3; i++) {
      await concurrently(cluster.commands, `warm-up-${i}`, COMMANDS_PER_ROUND)
      await sequentialWriter(sequential, `warm-up-${i}`, COMMANDS_PER_ROUND)
    }
    for (let round = 0; round < ROUNDS; round++) {
      const id = `hot-${round}`
      // Alternate which side goes first, so a neighbour's load falls on both.
      let writerRoundMs = round % 2 === 1 ? await sequentialWriter(sequential, id, COMMANDS_PER_ROUND) : 0
      const viaRouter = await concurrently(cluster.commands, id, COMMANDS_PER_ROUND)
      if (round % 2 === 0) writerRoundMs = await sequentialWriter(sequential, id, COMMANDS_PER_ROUND)
      routerMs += viaRouter.ms
      writerMs += writerRoundMs
      routerFailed += viaRouter.failed
      ratios.push(writerRoundMs / viaRouter.ms)
      const viaBus = await concurrently(bus, id, COMMANDS_PER_ROUND / 4)
      plainMs += viaBus.ms
      plainFailed += viaBus.failed
    }
    groupSize = cluster.groupSize()
  } finally {
    await cluster.close()
  }
  const commands = ROUNDS * COMMANDS_PER_ROUND
  const router = commands / (routerMs / 1000)
  const writer = commands / (writerMs / 1000)
  const plainCommands = ROUNDS * (COMMANDS_PER_ROUND / 4)
  const plainRate = (plainCommands - plainFailed) / (plainMs / 1000)
  return {
    figure: { label: 'router', value: Math.round(router), unit: 'commands/s' },
    baseline: { label: 'sequential writer', value: Math.round(writer), unit: 'commands/s' },
    ratio: [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)]!,
    target: 0.9,
    notes:
      `median ratio of ${ROUNDS} rounds (${ratios.map((r) => r.toFixed(2)).join(', ')}; totals above); ${commands} commands, ${CONCURRENCY} in flight to one aggregate (in-memory store): router ${routed.counts.conflicts} conflicts, ` +
      `${routerFailed} failed, ${groupSize.toFixed(1)} commands per append. Without the router (createCommandBus, same load, ${plainCommands} commands): ` +
      `${plain.counts.conflicts} conflicts (each a retry), ${plainFailed} given up as CONCURRENCY_CONFLICT, ${Math.round(plainRate)} commands/s succeeded`,
  }
}

const bench: Bench = {
  name: 'sharding-hot-aggregate',
  description:
    '64 concurrent commands to one hot aggregate through the router (entity host mailbox) vs one sequential writer, in memory and over the devstore; the same load on the plain command bus beside it',
  async run(): Promise<BenchResult[]> {
    return [await inMemory(), await overDevstore()]
  },
}

export default bench
