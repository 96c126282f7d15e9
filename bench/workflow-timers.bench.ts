/**
 * Durable timers at scale on one replica: N pending timers (default 100,000; WORKFLOW_TIMERS for a quick
 * look) of a workflow whose records are in a devstore running in a child process (so the events are not in
 * this heap). Memory: the heap (after a full GC) with the workflow's partitions running and every timer armed,
 * minus the heap before they started, per timer: what a replica holds per pending timer beyond its event
 * (target < 300 bytes). Firing: the clock moves past every due time and the partitions fire them all, each
 * sending one command through the command bus (load the instance, send, record; up to 32 instances of a
 * partition at once), against a bare setTimeout
 * loop sending the same commands through the same bus: rates in timers/s, in alternating rounds (target the
 * workflow keeps 50% of the bare rate).
 *
 * Run: npm run bench -- workflow-timers   (WORKFLOW_TIMERS=10000 for a quick look)
 */
import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { z } from 'zod'
import { defineAggregate } from '../framework/aggregate/define-aggregate.ts'
import { createCommandBus, type LocalCommandBus } from '../framework/command/create-command-bus.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { nameBasedUuid } from '../framework/command/derive-event-id.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { defineWorkflow } from '../projections/workflows/define-workflow.ts'
import { createTestClock } from '../projections/workflows/test-clock.ts'
import { workflowStream, type WorkflowRecord } from '../projections/workflows/workflow-records.ts'
import { pairedRatio } from './paired-rounds.ts'
import { startDevStoreProcess } from './projection-catchup.bench.ts'
import type { Bench, BenchResult } from './run.ts'

const WRITERS = 16
/** The workflow's firings at once: 4 partitions of 32; the bare loop sends through as many. */
const IN_FLIGHT = 4 * 32
const ROUNDS = 2

const Beacon = defineAggregate({
  name: 'Beacon',
  state: z.object({ pings: z.number() }),
  initialState: { pings: 0 },
  events: { BeaconLit: z.object({}), BeaconPinged: z.object({}) },
  commands: {
    ping: { input: z.object({}), decide: () => ({ type: 'BeaconPinged', data: {} }) },
  },
  evolve: {
    BeaconLit: (state) => state,
    BeaconPinged: (state) => ({ pings: state.pings + 1 }),
  },
})

function beacons(name: string) {
  return defineWorkflow({
    name,
    state: z.object({}),
    initialState: {},
    from: [Beacon],
    startsOn: ['BeaconLit'],
    handlers: {},
    timers: {
      due: async (_state, ctx) => {
        await ctx.send({ aggregate: Beacon, command: 'ping', aggregateId: ctx.workflowId, input: {} })
      },
    },
  })
}

/** A full collection, so two heap readings compare live objects only. */
function collector(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

function heapAfterGc(gc: () => void): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Writes each instance's record as a reaction that scheduled its timer writes it: one event per instance. */
async function seedTimers(store: EventStore, workflow: string, count: number, due: number): Promise<void> {
  let next = 0
  const writer = async () => {
    while (next < count) {
      const workflowId = `${workflow}-b${next++}`
      const stream = workflowStream(workflow, workflowId)
      const eventId = randomUUID()
      const record: WorkflowRecord = {
        workflow,
        workflowId,
        trigger: {
          kind: 'event',
          eventId,
          eventType: 'BeaconLit',
          streamName: `Beacon-${workflowId}`,
          position: '0',
        },
        snapshot: {
          status: 'active',
          state: {},
          timers: [{ name: 'due', id: nameBasedUuid(`${stream}/event/${eventId}/timer/due`), due }],
          through: '0',
        },
        sent: [],
      }
      await store.appendToStream(stream, [{ id: randomUUID(), type: 'WorkflowEventHandled', data: record }], {
        expectedRevision: 'no_stream',
      })
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, writer))
}

interface WorkflowRound {
  readonly bytesPerTimer: number
  readonly perSecond: number
  /** Seconds to seed the records, and to start the partitions until every timer is armed. */
  readonly seedSeconds: number
  readonly readySeconds: number
}

async function workflowRound(
  store: EventStore,
  bus: LocalCommandBus,
  count: number,
  round: number,
  gc: () => void,
): Promise<WorkflowRound> {
  const clock = createTestClock()
  const name = `beacons${round}_${Date.now()}`
  const due = clock.now() + 1
  const seeding = performance.now()
  await seedTimers(store, name, count, due)
  const seedSeconds = (performance.now() - seeding) / 1000
  // An event every partition reads (it starts an instance with no timer): reaching it means caught up.
  const marker = await store.appendToStream(`Beacon-${name}-marker`, [
    { id: randomUUID(), type: 'BeaconLit', data: {} },
  ])
  const definition = beacons(name)
  const readSide = await createReadSide({ workflows: [definition], clock }).create({
    store,
    commands: bus,
    // A failed firing is a wrong figure: say why.
    log: { info: () => {}, warn: () => {}, error: (object, message) => console.error(message, object) },
  })
  const workflow = readSide.workflow(name)
  const before = heapAfterGc(gc)
  const starting = performance.now()
  await readSide.start()
  // Ready: every partition caught up with the log, its timers armed.
  await workflow.reached(marker.position)
  if (workflow.pendingTimers() !== count)
    throw new Error(`${workflow.pendingTimers()} timers armed, not ${count}`)
  const readySeconds = (performance.now() - starting) / 1000
  const after = heapAfterGc(gc)
  const started = performance.now()
  clock.advance(1)
  await workflow.idle()
  const seconds = (performance.now() - started) / 1000
  if (workflow.timersFired() !== count)
    throw new Error(`${workflow.timersFired()} timers fired, not ${count}`)
  await readSide.stop()
  return { bytesPerTimer: (after - before) / count, perSecond: count / seconds, seedSeconds, readySeconds }
}

/**
 * The same command sends from a bare setTimeout per timer: no record, no instance, no durability. The callbacks
 * fire together and send through IN_FLIGHT slots, as many as the workflow's partitions fire at once: sent all at
 * once, 100,000 appends queued at the store outlasted the client's 10 s deadline (DEADLINE_EXCEEDED).
 */
async function bareRound(bus: LocalCommandBus, count: number, round: number): Promise<number> {
  const prefix = `bare${round}_${Date.now()}`
  let done = 0
  let inFlight = 0
  const waiting: (() => void)[] = []
  let failed: unknown
  const started = performance.now()
  const send = async (i: number) => {
    if (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve))
    inFlight++
    try {
      await bus.execute({
        aggregate: 'Beacon',
        command: 'ping',
        aggregateId: `${prefix}-b${i}`,
        input: {},
        commandId: nameBasedUuid(`${prefix}/${i}`),
      })
    } finally {
      inFlight--
      waiting.shift()?.()
    }
  }
  await new Promise<void>((resolve) => {
    for (let i = 0; i < count; i++) {
      setTimeout(() => {
        send(i)
          .catch((error: unknown) => (failed = error))
          .finally(() => {
            if (++done === count) resolve()
          })
      }, 1)
    }
  })
  if (failed) throw failed
  return count / ((performance.now() - started) / 1000)
}

/** A round's figures as soon as they are measured: a long run that fails later still says what it saw. */
function progress<T>(side: string, round: number, figures: T): T {
  console.error(`workflow-timers round ${round} ${side}: ${JSON.stringify(figures)}`)
  return figures
}

const benchmark: Bench = {
  name: 'workflow-timers',
  description:
    '100,000 pending workflow timers on one replica: heap per timer, and firing them (one command each) vs a bare setTimeout loop sending the same commands',
  run: async (): Promise<BenchResult[]> => {
    const count = Number(process.env['WORKFLOW_TIMERS'] ?? 100_000)
    const gc = collector()
    const devStore = await startDevStoreProcess()
    const store = createEventStoreDbStore(devStore.connectionString)
    const bus = createCommandBus({ store, aggregates: [Beacon], maxQueuedCommands: count * 2 })
    try {
      const workflow: WorkflowRound[] = []
      const bare: number[] = []
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating which side goes first.
        if (round % 2 === 0) {
          workflow.push(progress('workflow', round, await workflowRound(store, bus, count, round, gc)))
          bare.push(progress('bare', round, await bareRound(bus, count, round)))
        } else {
          bare.push(progress('bare', round, await bareRound(bus, count, round)))
          workflow.push(progress('workflow', round, await workflowRound(store, bus, count, round, gc)))
        }
      }
      const rates = workflow.map((side) => side.perSecond)
      const paired = pairedRatio(rates, bare)
      const bytes = Math.max(...workflow.map((side) => side.bytesPerTimer))
      return [
        {
          figure: { label: `heap per pending timer (${count} timers)`, value: bytes, unit: 'bytes' },
          baseline: { label: 'target', value: 300, unit: 'bytes' },
          ratio: 300 / bytes,
          target: 1,
          notes: `per round: ${workflow.map((side) => side.bytesPerTimer.toFixed(0)).join(' / ')} bytes; ratio = 300 / figure (≥ 1 meets the target); the heap after a full GC with the partitions running minus before they started; events in a devstore child process; seeding the records took ${workflow.map((side) => side.seedSeconds.toFixed(0)).join(' / ')} s, starting the partitions until every timer was armed ${workflow.map((side) => side.readySeconds.toFixed(0)).join(' / ')} s`,
        },
        {
          figure: {
            label: `workflow timers fired (${count}, one command each)`,
            value: Math.min(...rates),
            unit: 'timers/s',
          },
          baseline: { label: 'bare setTimeout loop, same sends', value: Math.min(...bare), unit: 'timers/s' },
          ratio: paired.ratio,
          target: 0.5,
          notes: `paired ratios per round ${paired.rounds}; workflow ${rates.map((rate) => rate.toFixed(0)).join(' / ')}, bare ${bare.map((rate) => rate.toFixed(0)).join(' / ')} timers/s; 4 partitions, each firing up to 32 instances at once (load the instance, send, record); the bare loop's timers send through as many slots (${IN_FLIGHT}) as the partitions fire at once`,
        },
      ]
    } finally {
      bus.close()
      await store.close()
      await devStore.stop()
    }
  },
}

export default benchmark
