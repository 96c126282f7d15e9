import { randomUUID } from 'node:crypto'
import { counterAggregate } from '../framework/aggregate/counter.fixture.ts'
import { SCHEMA_VERSION_KEY } from '../framework/aggregate/define-aggregate.ts'
import { executeCommand } from '../framework/command/execute-command.ts'
import { loadAggregate } from '../framework/command/load-aggregate.ts'
import { COMMAND_ID_KEY } from '../framework/command/recent-commands.ts'
import type { EventStore, EventToAppend } from '../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import type { Bench, BenchResult } from './run.ts'

const ROUNDS = 9
const WARM_UP_ROUNDS = 2
const CHUNKS_PER_ROUND = 2
const COMMANDS_PER_CHUNK = 5000
const Counter = counterAggregate()

/** Both sides of one round: each appends to its own stream of its own store, the pipeline as a hot aggregate. */
interface Round {
  pipelineMs: number
  rawMs: number
  pipeline(count: number): Promise<void>
  raw(count: number): Promise<void>
}

// CPU time, not wall time: on a shared machine the process is descheduled at random, and that is not its cost.
function cpuMsSince(started: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(started)
  return (used.user + used.system) / 1000
}

async function createRound(): Promise<Round> {
  const pipelineStore = createInMemoryEventStore()
  const id = randomUUID()
  let loaded = await loadAggregate(pipelineStore, Counter, id)
  const rawStore: EventStore = createInMemoryEventStore()
  const rawStream = Counter.streamName(randomUUID())
  let rawRevision = -1n
  const round: Round = {
    pipelineMs: 0,
    rawMs: 0,
    async pipeline(count) {
      const commandIds = Array.from({ length: count }, () => randomUUID())
      const started = process.cpuUsage()
      for (const commandId of commandIds) {
        const input = { by: 1 }
        loaded = await executeCommand({
          store: pipelineStore,
          aggregate: Counter,
          id,
          command: 'increment',
          input,
          commandId,
          loaded,
        })
      }
      round.pipelineMs += cpuMsSince(started)
    },
    async raw(count) {
      // The same event the pipeline appends: type, data, metadata, a fresh id, one event per append.
      const events: EventToAppend[] = Array.from({ length: count }, () => ({
        id: randomUUID(),
        type: 'Incremented',
        data: { by: 1 },
        metadata: { [SCHEMA_VERSION_KEY]: 2, [COMMAND_ID_KEY]: randomUUID() },
      }))
      const started = process.cpuUsage()
      for (const event of events) {
        const expectedRevision = rawRevision === -1n ? 'no_stream' : rawRevision
        rawRevision = (await rawStore.appendToStream(rawStream, [event], { expectedRevision })).nextRevision
      }
      round.rawMs += cpuMsSince(started)
    },
  }
  return round
}

/** Runs a round as alternating chunks, each side first in turn, so drift on a shared machine falls on both. */
async function runRound(): Promise<{ pipeline: number; raw: number }> {
  const round = await createRound()
  for (let chunk = 0; chunk < CHUNKS_PER_ROUND; chunk++) {
    if (chunk % 2 === 0) {
      await round.pipeline(COMMANDS_PER_CHUNK)
      await round.raw(COMMANDS_PER_CHUNK)
    } else {
      await round.raw(COMMANDS_PER_CHUNK)
      await round.pipeline(COMMANDS_PER_CHUNK)
    }
  }
  const commands = CHUNKS_PER_ROUND * COMMANDS_PER_CHUNK
  return { pipeline: commands / (round.pipelineMs / 1000), raw: commands / (round.rawMs / 1000) }
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

const bench: Bench = {
  name: 'command-pipeline',
  description: 'executeCommand on a hot aggregate vs a raw append loop of the same events (in-memory store)',
  async run(): Promise<BenchResult> {
    for (let n = 0; n < WARM_UP_ROUNDS; n++) await runRound()
    const rounds = []
    for (let n = 0; n < ROUNDS; n++) rounds.push(await runRound())
    const ratios = rounds.map((r) => r.pipeline / r.raw)
    const spread = `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}`
    return {
      figure: { label: 'pipeline', value: median(rounds.map((r) => r.pipeline)), unit: 'commands/s' },
      baseline: { label: 'raw append', value: median(rounds.map((r) => r.raw)), unit: 'appends/s' },
      ratio: median(ratios),
      target: 0.5,
      notes:
        `median of ${ROUNDS} rounds of ${CHUNKS_PER_ROUND * COMMANDS_PER_CHUNK} single-event commands, ` +
        `interleaved in chunks of ${COMMANDS_PER_CHUNK}, after ${WARM_UP_ROUNDS} warm-up rounds; CPU time; round ratios ${spread}`,
    }
  },
}

export default bench
