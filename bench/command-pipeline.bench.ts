import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { counterAggregate } from '../test/support/counter.fixture.ts'
import { SCHEMA_VERSION_KEY } from '../framework/aggregate/define-aggregate.ts'
import { createCommandBus, type LocalCommandBus } from '../framework/command/create-command-bus.ts'
import { deriveEventId } from '../framework/command/derive-event-id.ts'
import {
  COMMAND_HASH_KEY,
  COMMAND_ID_KEY,
  commandHash,
  RecentCommandWindow,
} from '../framework/command/recent-commands.ts'
import { ConcurrencyConflictError } from '../framework/errors.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { cpuMicros, forkBenchServer, type BenchServer } from './devstore-bench-servers.ts'
import { median, pairedRatio, pairedRounds } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'

const Counter = counterAggregate()
type State = ReturnType<typeof Counter.initial>
const decide = Counter.commands.increment.decide
const CONCURRENCY = 64

/** What one side of a round did: commands, wall time, and the CPU of every process that worked for it. */
interface Measured {
  readonly commands: number
  readonly ms: number
  readonly cpuMicros: number
  readonly conflicts: number
  readonly failed: number
}

const rate = (side: Measured) => side.commands / (side.ms / 1000)
const cpuPerCommand = (sides: readonly Measured[]) =>
  median(sides.map((side) => side.cpuMicros / side.commands))

/** Runs `work` and measures it: wall time, this process's CPU, and the store process's CPU when there is one. */
async function measure(
  server: BenchServer | undefined,
  work: () => Promise<{ commands: number; conflicts?: number; failed?: number }>,
): Promise<Measured> {
  const serverBefore = server ? (await server.stats()).cpuMicros : 0
  const cpuBefore = cpuMicros()
  const started = performance.now()
  const done = await work()
  const ms = performance.now() - started
  const cpu = cpuMicros() - cpuBefore + (server ? (await server.stats()).cpuMicros - serverBefore : 0)
  return {
    commands: done.commands,
    ms,
    cpuMicros: cpu,
    conflicts: done.conflicts ?? 0,
    failed: done.failed ?? 0,
  }
}

/**
 * The hand-written writer the issue names: the aggregate's own decide and evolve, an append fenced by the
 * expected revision, the same event (type, data, schema version and command id) with a fresh id; on a conflict
 * it reads the stream again and decides again. `held` keeps the state between commands as a single writer
 * may; without it every command reads its stream first, as an optimistic writer with other writers must.
 * `duties` adds what the bus owes its callers beyond that, written by hand with the framework's own helpers:
 * 'parse' the input parsed by its schema and the generated command id as its event's id (what a command sent
 * without an id is owed); 'dedupe' instead an event id derived from the command id by name, a content hash and a
 * window of the aggregate's recent command ids checked before deciding (what a command sent with its caller's
 * id is owed, so a retry appends nothing twice).
 */
function handWrittenWriter(store: EventStore, held: boolean, duty: 'none' | 'parse' | 'dedupe' = 'none') {
  const duties = duty !== 'none'
  const dedupe = duty === 'dedupe'
  const states = new Map<string, { state: State; revision: bigint }>()
  const windows = new Map<string, RecentCommandWindow>()
  const inputSchema = Counter.commands.increment.input
  async function load(id: string) {
    let state = Counter.initial(id)
    let revision = -1n
    for await (const event of store.readStream(Counter.streamName(id))) {
      state = Counter.evolve.Incremented(state, event.data as { by: number }, {
        id,
        revision: event.revision,
        createdAt: event.createdAt,
      })
      revision = event.revision
    }
    return { state, revision }
  }
  return async function execute(id: string, by: number): Promise<{ conflicts: number }> {
    let conflicts = 0
    let current = (held ? states.get(id) : undefined) ?? (await load(id))
    const commandId = randomUUID()
    const input = duties ? inputSchema.parse({ by }) : { by }
    const hash = dedupe ? commandHash('increment', input) : undefined
    let window = dedupe ? windows.get(id) : undefined
    if (dedupe && !window) windows.set(id, (window = new RecentCommandWindow()))
    if (window?.get(commandId)) return { conflicts: 0 }
    for (;;) {
      const event = decide(current.state, input, {
        id,
        revision: current.revision,
        commandId,
        now: new Date(),
      })
      const single = firstOf(event)
      const data = single.data as { by: number }
      try {
        const appended = await store.appendToStream(
          Counter.streamName(id),
          [
            {
              id: dedupe ? deriveEventId(commandId, 0) : duties ? commandId : randomUUID(),
              type: single.type,
              data,
              metadata:
                hash === undefined
                  ? { [SCHEMA_VERSION_KEY]: 2, [COMMAND_ID_KEY]: commandId }
                  : { [SCHEMA_VERSION_KEY]: 2, [COMMAND_ID_KEY]: commandId, [COMMAND_HASH_KEY]: hash },
            },
          ],
          { expectedRevision: current.revision === -1n ? 'no_stream' : current.revision },
        )
        window?.remember(commandId, appended.nextRevision, appended.nextRevision, hash)
        const context = { id, revision: appended.nextRevision, createdAt: new Date() }
        current = {
          state: Counter.evolve.Incremented(current.state, data, context),
          revision: appended.nextRevision,
        }
        if (held) states.set(id, current)
        return { conflicts }
      } catch (error) {
        if (!(error instanceof ConcurrencyConflictError)) throw error
        conflicts++
        current = await load(id)
      }
    }
  }
}

function isList<T>(value: T | readonly T[]): value is readonly T[] {
  return Array.isArray(value)
}

/** The one event a Counter's increment emits, whether decide answered it alone or in a list. */
function firstOf<T>(emitted: T | readonly T[]): T {
  if (!isList(emitted)) return emitted
  const [first] = emitted
  if (first === undefined) throw new Error('increment emitted no event')
  return first
}

/** `count` commands from CONCURRENCY callers, each to the aggregate `aggregateOf` names for its caller. */
async function concurrently(
  count: number,
  aggregateOf: (caller: number) => string,
  send: (id: string) => Promise<unknown>,
) {
  let next = 0
  let conflicts = 0
  let failed = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, caller) => {
      while (next++ < count) {
        try {
          const answer = await send(aggregateOf(caller))
          if (typeof answer === 'object' && answer !== null && 'conflicts' in answer) {
            conflicts += (answer as { conflicts: number }).conflicts
          }
        } catch {
          failed++
        }
      }
    }),
  )
  return { commands: count, conflicts, failed }
}

const viaBus = (bus: LocalCommandBus) => (id: string) =>
  bus.execute({ aggregate: 'Counter', command: 'increment', aggregateId: id, input: { by: 1 } })
/** The bus sent each command with an id of its caller's, as a client that retries does. */
const viaBusWithIds = (bus: LocalCommandBus) => (id: string) =>
  bus.execute({
    aggregate: 'Counter',
    command: 'increment',
    aggregateId: id,
    input: { by: 1 },
    commandId: randomUUID(),
  })

/**
 * One caller, one aggregate already in memory, on the in-memory store: the pipeline's own cost. Commands sent
 * without an id against the plain loop (the issue's baseline) and against the loop with the duties such a
 * command is owed; commands sent with their caller's id against the loop with every duty; all in the same rounds.
 */
async function sequentialInMemory(): Promise<BenchResult[]> {
  const COMMANDS = 5_000
  const ROUNDS = 12
  const bus = createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter] })
  const busWithIds = createCommandBus({ store: createInMemoryEventStore(), aggregates: [Counter] })
  const writers = {
    hand: handWrittenWriter(createInMemoryEventStore(), true),
    parsing: handWrittenWriter(createInMemoryEventStore(), true, 'parse'),
    deduping: handWrittenWriter(createInMemoryEventStore(), true, 'dedupe'),
  }
  const sides = {
    bus: viaBus(bus),
    busWithIds: viaBusWithIds(busWithIds),
    hand: (id: string) => writers.hand(id, 1),
    parsing: (id: string) => writers.parsing(id, 1),
    deduping: (id: string) => writers.deduping(id, 1),
  }
  type Side = keyof typeof sides
  const one = async (execute: (id: string) => Promise<unknown>) => {
    for (let i = 0; i < COMMANDS; i++) await execute('hot')
    return { commands: COMMANDS }
  }
  try {
    for (let warm = 0; warm < 2; warm++) for (const side of Object.values(sides)) await one(side)
    const runs = Object.fromEntries(Object.keys(sides).map((side) => [side, []])) as unknown as Record<
      Side,
      Measured[]
    >
    const measureSide = (side: Side) => async () =>
      rate(remember(runs[side], await measure(undefined, () => one(sides[side]))))
    const measured = await pairedRounds(ROUNDS, {
      bus: measureSide('bus'),
      busWithIds: measureSide('busWithIds'),
      hand: measureSide('hand'),
      parsing: measureSide('parsing'),
      deduping: measureSide('deduping'),
    })
    const pair = (figure: Side, baseline: Side) => ({
      measured: { bus: measured[figure], hand: measured[baseline] },
      runs: { bus: runs[figure], hand: runs[baseline] },
    })
    const figure = 'createCommandBus, one caller, held aggregate, in-memory store'
    const notes = `${COMMANDS} single-event commands a round to one aggregate`
    return [
      result({
        figure,
        baseline: 'hand-written loop: decide, evolve, append fenced by revision, state held',
        ...pair('bus', 'hand'),
        target: 0.8,
        notes,
        rounds: ROUNDS,
      }),
      result({
        figure,
        baseline:
          'the same loop with the duties of a command sent without an id: input parsed, the generated command id as the event id',
        ...pair('bus', 'parsing'),
        notes,
        rounds: ROUNDS,
      }),
      result({
        figure: `${figure}, each command with its caller's id`,
        baseline:
          'the same loop with every duty: input parsed, event id derived from the command id, content hash, recent-command window',
        ...pair('busWithIds', 'deduping'),
        notes,
        rounds: ROUNDS,
      }),
    ]
  } finally {
    bus.close()
    busWithIds.close()
  }
}

/** CONCURRENCY callers over the devstore in a child process, fsync on: independent aggregates or one hot one. */
async function overDevstore(server: BenchServer, hot: boolean): Promise<BenchResult> {
  const COMMANDS = hot ? 1_000 : 2_000
  const HAND_COMMANDS = hot ? 100 : 2_000
  const ROUNDS = 6
  const store = createEventStoreDbStore(server.connectionString)
  const bus = createCommandBus({ store, aggregates: [Counter] })
  const hand = handWrittenWriter(store, false)
  let round = 0
  // Fresh aggregates each round: the hand-written writer reads short streams, never a long history.
  const aggregateOf = (side: string) => (caller: number) => `${side}-${round}-${hot ? 'hot' : caller}`
  const busSide = () => concurrently(COMMANDS, aggregateOf('bus'), viaBus(bus))
  const handSide = () => concurrently(HAND_COMMANDS, aggregateOf('hand'), (id) => hand(id, 1))
  try {
    await busSide()
    await handSide()
    const runs: Record<'bus' | 'hand', Measured[]> = { bus: [], hand: [] }
    const measured = await pairedRounds(ROUNDS, {
      bus: async () => (round++, rate(remember(runs.bus, await measure(server, busSide)))),
      hand: async () => (round++, rate(remember(runs.hand, await measure(server, handSide)))),
    })
    const conflicts = (side: Measured[]) => side.reduce((sum, run) => sum + run.conflicts, 0)
    const failed = (side: Measured[]) => side.reduce((sum, run) => sum + run.failed, 0)
    const written = bus.host.written()
    return result({
      figure: `createCommandBus, ${CONCURRENCY} callers, ${hot ? 'one aggregate' : `${CONCURRENCY} aggregates`}, devstore`,
      baseline: `hand-written optimistic loop, ${CONCURRENCY} callers: read, decide, append fenced by revision, retry on conflict`,
      measured,
      runs,
      target: hot ? 50 : 1,
      notes:
        `devstore in a child process, file-backed with fsync, loopback gRPC; ${COMMANDS} commands a round on the bus side, ` +
        `${HAND_COMMANDS} on the hand-written side; bus: ${conflicts(runs.bus)} conflicts, ${failed(runs.bus)} failed, ` +
        `${(written.commands / Math.max(1, written.appends)).toFixed(1)} commands per append; hand-written: ` +
        `${conflicts(runs.hand)} conflicts retried, ${failed(runs.hand)} failed`,
      rounds: ROUNDS,
    })
  } finally {
    bus.close()
    await store.close()
  }
}

function remember(runs: Measured[], run: Measured): Measured {
  runs.push(run)
  return run
}

function result(options: {
  figure: string
  baseline: string
  measured: Record<'bus' | 'hand', number[]>
  runs: Record<'bus' | 'hand', Measured[]>
  target?: number
  notes: string
  rounds: number
}): BenchResult {
  const { measured, runs } = options
  const paired = pairedRatio(measured.bus, measured.hand)
  const cpu = (side: Measured[]) => cpuPerCommand(side).toFixed(0)
  return {
    figure: { label: options.figure, value: Math.round(median(measured.bus)), unit: 'commands/s' },
    baseline: { label: options.baseline, value: Math.round(median(measured.hand)), unit: 'commands/s' },
    ratio: paired.ratio,
    ...(options.target === undefined ? {} : { target: options.target }),
    notes:
      `${options.notes}; CPU per command, all processes: bus ${cpu(runs.bus)} µs, hand-written ${cpu(runs.hand)} µs; ` +
      `median of ${options.rounds} alternating pairs (${paired.rounds}) after a warm-up of each side`,
  }
}

const bench: Bench = {
  name: 'command-pipeline',
  description:
    'The default command path (createCommandBus, what createServer runs) against hand-written loops with the same aggregate logic: one caller in memory, 64 callers over the devstore on independent aggregates and on one',
  method:
    "Both sides run the Counter aggregate's own decide and evolve and append the same event (type, data, schema version, command id). The hand-written side decides, evolves and appends with the expected revision, without validation, derived ids or mailboxes: in memory with its state held (the cheapest loop there is), and in the same rounds with the bus's duties added by hand, which shows what the guarantees cost and what the pipeline itself adds: for commands sent without an id (the bus generates it) the input parsed, the generated id being the event's id; for commands sent with their caller's id (the bus's own side sends them so, in a fourth side) also an event id derived from the command id by name, the content hash and the recent-command window; over the devstore as an optimistic writer that reads the stream before each command and again after a conflict. The devstore runs in a child process, file-backed with fsync, and its CPU is added to each side's. Rounds alternate which side goes first; the ratio is the median of the rounds' paired ratios. Targets (issue 20): 0.8 in memory, 1.0 on independent aggregates, 50 on one aggregate with zero conflicts and zero failures on the bus side.",
  async run(): Promise<BenchResult[]> {
    const results = await sequentialInMemory()
    const dataDir = await mkdtemp(join(tmpdir(), 'command-pipeline-'))
    const server = await forkBenchServer('store', dataDir)
    try {
      results.push(await overDevstore(server, false))
      results.push(await overDevstore(server, true))
    } finally {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    }
    return results
  },
}

export default bench
