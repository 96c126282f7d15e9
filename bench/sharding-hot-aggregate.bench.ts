import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { createDevStore } from '../devstore/index.ts'
import { counterAggregate } from '../test/support/counter.fixture.ts'
import type { CommandBus } from '../framework/command/command-bus.ts'
import { createCommandBus } from '../framework/command/create-command-bus.ts'
import { executeCommandGroup } from '../framework/command/execute-command-group.ts'
import { loadAggregate } from '../framework/command/load-aggregate.ts'
import { commandDefinition } from '../framework/command/validate-command.ts'
import { ConcurrencyConflictError } from '../framework/errors.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { createCluster } from '../framework/sharding/create-cluster.ts'
import { median, pairedRatio, pairedRounds } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'

const Counter = counterAggregate()
const CONCURRENCY = 64
const ROUNDS = 12
const COMMANDS_PER_ROUND = 2000
const DEVSTORE_ROUNDS = 6
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

const increment = commandDefinition(Counter, 'increment')

/** The pipeline one command at a time on a held aggregate: each decided and appended alone. */
async function sequentialWriter(store: EventStore, id: string, count: number) {
  let loaded = await loadAggregate(store, Counter, id)
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const commands = [
      { command: 'increment', definition: increment, input: { by: 1 }, commandId: randomUUID() },
    ]
    const group = await executeCommandGroup({ store, aggregate: Counter, id, commands, loaded })
    if (!group.appended) throw group.error
    await group.outcomes
    loaded = group.loaded
  }
  return performance.now() - started
}

async function startRouter(store: EventStore) {
  const http = Fastify({ logger: false })
  const local = createCommandBus({ store, aggregates: [Counter] })
  const cluster = await createCluster({ env: {} }).create({ local, http, selfUrl: 'http://127.0.0.1:1' })
  return {
    commands: cluster.commands,
    /** Commands decided per append so far: the mean group size the mailbox formed. */
    groupSize: () => {
      const { appends, appendedCommands } = cluster.status()
      return appends === 0 ? 0 : appendedCommands / appends
    },
    async close() {
      await cluster.close()
      local.close()
      await http.close()
    },
  }
}

/** Executes `count` commands one group of `groupSize` at a time, each group decided and appended at once. */
async function groupedWriter(store: EventStore, id: string, count: number, groupSize: number) {
  let loaded = await loadAggregate(store, Counter, id)
  const started = performance.now()
  for (let done = 0; done < count;) {
    const commands = Array.from({ length: Math.min(groupSize, count - done) }, () => ({
      command: 'increment',
      definition: increment,
      input: { by: 1 },
      commandId: randomUUID(),
    }))
    const group = await executeCommandGroup({ store, aggregate: Counter, id, commands, loaded })
    if (!group.appended) throw group.error
    // Every command is answered, as the router answers each caller.
    await group.outcomes
    loaded = group.loaded
    done += group.taken
  }
  return performance.now() - started
}

interface Setting {
  readonly where: string
  readonly rounds: number
  readonly commandsPerRound: number
  /** A fresh store of this kind, counting conflicts: the router's, the writers' (one each, so none shares). */
  readonly store: () => ReturnType<typeof conflictCountingStore>
}

/**
 * The router against two writers over the same kind of store, in rounds whose order rotates: one writer runs
 * each command alone (one append per command), the other groups them as the router did in its warm-up (one
 * append per group), so the second ratio is what the mailbox and 64 callers cost over grouping by hand.
 */
async function compare(setting: Setting): Promise<BenchResult[]> {
  const routed = setting.store()
  const router = await startRouter(routed.store)
  const sequential = setting.store()
  const grouped = setting.store()
  const { rounds, commandsPerRound } = setting
  let failed = 0
  let groupSize = 0
  let measured: Record<'router' | 'sequential' | 'grouped', number[]>
  try {
    for (let i = 0; i < 2; i++) {
      await concurrently(router.commands, `warm-up-${i}`, commandsPerRound)
      await sequentialWriter(sequential.store, `warm-up-${i}`, commandsPerRound)
    }
    groupSize = Math.max(1, Math.round(router.groupSize()))
    await groupedWriter(grouped.store, 'warm-up', commandsPerRound, groupSize)
    let round = 0
    const rate = (ms: number) => commandsPerRound / (ms / 1000)
    measured = await pairedRounds(rounds, {
      router: async () => {
        const viaRouter = await concurrently(router.commands, `hot-router-${round++}`, commandsPerRound)
        failed += viaRouter.failed
        return rate(viaRouter.ms)
      },
      sequential: async () =>
        rate(await sequentialWriter(sequential.store, `hot-seq-${round++}`, commandsPerRound)),
      grouped: async () =>
        rate(await groupedWriter(grouped.store, `hot-group-${round++}`, commandsPerRound, groupSize)),
    })
  } finally {
    await router.close()
    for (const side of [routed, sequential, grouped]) await side.store.close()
  }
  const routerFigure = {
    label: `router, ${setting.where}`,
    value: Math.round(median(measured.router)),
    unit: 'commands/s',
  }
  const common = `${commandsPerRound} commands a round, ${CONCURRENCY} in flight to one aggregate through the router (${routed.counts.conflicts} conflicts, ${failed} failed, ${router.groupSize().toFixed(1)} commands per append); rounds rotate the order of the three sides; rates: each side's median`
  const vsSequential = pairedRatio(measured.router, measured.sequential)
  const vsGrouped = pairedRatio(measured.router, measured.grouped)
  return [
    {
      figure: routerFigure,
      baseline: {
        label: `sequential writer, one append per command, ${setting.where}`,
        value: Math.round(median(measured.sequential)),
        unit: 'commands/s',
      },
      ratio: vsSequential.ratio,
      target: 0.9,
      notes: `median of ${rounds} rounds' ratios (${vsSequential.rounds}); ${common}`,
    },
    {
      figure: routerFigure,
      baseline: {
        label: `grouped writer, ${groupSize} commands per append, ${setting.where}`,
        value: Math.round(median(measured.grouped)),
        unit: 'commands/s',
      },
      ratio: vsGrouped.ratio,
      notes: `median of ${rounds} rounds' ratios (${vsGrouped.rounds}); the writer groups as many commands per append as the router did in its warm-up; ${common}`,
    },
  ]
}

/** The same load on a stateless bus (no aggregate held in memory): what holding and the mailbox spare. */
async function withoutHolding(): Promise<string> {
  const plain = conflictCountingStore()
  const bus = createCommandBus({ store: plain.store, aggregates: [Counter], stateless: true })
  const commands = COMMANDS_PER_ROUND
  const viaBus = await concurrently(bus, 'plain', commands)
  bus.close()
  return `Stateless (createCommandBus with stateless: true, the same load, ${commands} commands in memory): ${plain.counts.conflicts} conflicts, ${viaBus.failed} failed, ${Math.round((commands - viaBus.failed) / (viaBus.ms / 1000))} commands/s`
}

const bench: Bench = {
  name: 'sharding-hot-aggregate',
  description:
    '64 concurrent commands to one hot aggregate through the router (entity host mailbox) vs a sequential writer and a grouping writer, in memory and over the devstore',
  method: `${CONCURRENCY} callers send increments to one aggregate through the router (createCluster with no peers: the entity host's mailbox groups queued commands into one append). Two baselines do the same commands without callers or a mailbox: a sequential writer (the pipeline one command at a time, executeCommandGroup with one command, one append each, the aggregate held in memory) and a grouped writer (executeCommandGroup with as many commands per append as the router formed in its warm-up). In memory: ${ROUNDS} rounds of ${COMMANDS_PER_ROUND} commands per side; over an in-process devstore (gRPC on loopback): ${DEVSTORE_ROUNDS} rounds of ${DEVSTORE_COMMANDS_PER_ROUND}. The three sides rotate their order each round; each ratio is the median of the rounds' ratios. Target 0.9 against the sequential writer, with no conflicts; none against the grouped writer, which shows what the mailbox costs.`,
  async run(): Promise<BenchResult[]> {
    const note = await withoutHolding()
    const inMemory = await compare({
      where: 'in memory',
      rounds: ROUNDS,
      commandsPerRound: COMMANDS_PER_ROUND,
      store: () => conflictCountingStore(),
    })
    const devstore = await createDevStore()
    try {
      const overDevstore = await compare({
        where: 'over the devstore',
        rounds: DEVSTORE_ROUNDS,
        commandsPerRound: DEVSTORE_COMMANDS_PER_ROUND,
        store: () => conflictCountingStore(createEventStoreDbStore(devstore.connectionString)),
      })
      const [first, ...rest] = inMemory
      return [{ ...first!, notes: `${first!.notes}. ${note}` }, ...rest, ...overDevstore]
    } finally {
      await devstore.close()
    }
  },
}

export default bench
