import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { z } from 'zod'
import { defineAggregate } from '../framework/aggregate/define-aggregate.ts'
import type { CommandBus, CommandEnvelope } from '../framework/command/command-bus.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { defineWorkflow } from '../projections/workflows/define-workflow.ts'
import { createTestClock } from '../projections/workflows/test-clock.ts'
import { TimerQueue } from '../projections/workflows/timer-queue.ts'
import { alternate } from './paired-rounds.ts'
import type { Bench, BenchResult } from './run.ts'

const PENDING = 100_000
const TARGET_BYTES = 300
const FIRED = 5_000
const ROUNDS = 4

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heapUsed = () => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

const Device = defineAggregate({
  name: 'Device',
  state: z.object({}),
  initialState: {},
  events: { DeviceSeen: z.object({}), DeviceSilent: z.object({}) },
  commands: {},
  evolve: { DeviceSeen: (state) => state, DeviceSilent: (state) => state },
})

const watch = defineWorkflow({
  name: 'watch',
  state: z.object({}),
  initialState: {},
  from: [Device],
  startsOn: ['DeviceSeen'],
  partitions: 1,
  handlers: { DeviceSeen: (_state, _event, ctx) => ctx.schedule('silence', { afterMs: 60_000 }) },
  timers: {
    silence: async (_state, ctx) => {
      await ctx.send({ aggregate: 'Device', command: 'markSilent', aggregateId: ctx.workflowId, input: {} })
    },
  },
})

/** A bus that answers at once: both sides pay the same for a send, so the ratio is the timers' own cost. */
function answeringBus(): CommandBus & { sent: number } {
  const bus = {
    sent: 0,
    execute: (envelope: CommandEnvelope) => {
      bus.sent++
      return Promise.resolve({
        aggregateId: envelope.aggregateId,
        commandId: envelope.commandId ?? '',
        revision: 0n,
        events: [],
        position: 0n,
      })
    },
  }
  return bus
}

/** Timers fired per second by the workflow runtime: FIRED instances each with a timer, all made due at once. */
async function workflowRate(): Promise<number> {
  const store = createInMemoryEventStore()
  const clock = createTestClock(0)
  const bus = answeringBus()
  const readSide = await createReadSide({ workflows: [watch], clock }).create({ store, commands: bus })
  await readSide.start()
  let last = 0n
  for (let n = 0; n < FIRED; n++) {
    last = (await store.appendToStream(`Device-d${n}`, [{ id: randomUUID(), type: 'DeviceSeen', data: {} }]))
      .position
  }
  const control = readSide.workflow('watch')
  await control.reached(last)
  const started = performance.now()
  clock.set(60_000)
  await control.idle()
  const seconds = (performance.now() - started) / 1000
  if (bus.sent !== FIRED) throw new Error(`fired ${bus.sent} of ${FIRED}`)
  await readSide.stop()
  return FIRED / seconds
}

/** The same sends from a bare setTimeout per timer: no record, no check, nothing durable. */
async function setTimeoutRate(): Promise<number> {
  const bus = answeringBus()
  const started = performance.now()
  await Promise.all(
    Array.from(
      { length: FIRED },
      (_, n) =>
        new Promise<void>((resolve) => {
          setTimeout(() => {
            void bus
              .execute({ aggregate: 'Device', command: 'markSilent', aggregateId: `d${n}`, input: {} })
              .then(() => resolve())
          }, 0)
        }),
    ),
  )
  return FIRED / ((performance.now() - started) / 1000)
}

const bench: Bench = {
  name: 'workflow-timers',
  description: `${PENDING.toLocaleString('en')} pending workflow timers: memory per timer; firing ${FIRED.toLocaleString('en')} due timers against a bare setTimeout loop sending the same commands`,
  method: `Memory: the heap after a full collection, before and after ${PENDING.toLocaleString('en')} timers are added to the partition's timer queue (the instances' records are in the store, not in memory). Firing: ${ROUNDS} paired rounds alternating which side goes first; the workflow side makes ${FIRED.toLocaleString('en')} timers due at once on a test clock and waits until each firing is recorded (an append per timer to an in-memory store, a fresh read of its instance, its command); the baseline fires the same commands from setTimeout(0). Both send to a bus that answers at once.`,
  async run(): Promise<BenchResult[]> {
    const before = heapUsed()
    const queue = new TimerQueue()
    for (let n = 0; n < PENDING; n++) {
      queue.add({ due: 1_000_000 + n, workflowId: `battery-${n}`, name: 'silence', id: randomUUID() })
    }
    const perTimer = (heapUsed() - before) / PENDING
    if (queue.size !== PENDING) throw new Error('timers lost')

    const firing = await alternate(ROUNDS, { figure: workflowRate, baseline: setTimeoutRate })
    return [
      {
        figure: { label: 'per pending timer', value: Math.round(perTimer), unit: 'bytes' },
        baseline: { label: 'target', value: TARGET_BYTES, unit: 'bytes' },
        ratio: TARGET_BYTES / perTimer,
        target: 1,
        notes: `${PENDING.toLocaleString('en')} timers in the queue: due time, instance id, name and a UUID id each (the strings included)`,
      },
      {
        figure: { label: 'workflow timers fired', value: Math.round(firing.figure), unit: 'timers/s' },
        baseline: { label: 'setTimeout loop', value: Math.round(firing.baseline), unit: 'timers/s' },
        ratio: firing.ratio,
        target: 0.5,
        notes: `rounds ${firing.rounds}; each workflow firing is durable (recorded at its instance's revision), the baseline's is not`,
      },
    ]
  },
}

export default bench
