import { randomUUID } from 'node:crypto'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { counterAggregate } from '../test/support/counter.fixture.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { createCommandBus, type LocalCommandBus } from '../framework/command/create-command-bus.ts'
import type { Bench, BenchResult } from './run.ts'

const Counter = counterAggregate()
const TOUCHED = 1_000_000
const MAX_HOSTED = 10_000
const BOUND_MB = 64
const HOT = 20_000
const CONCURRENCY = 64

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

/** Heap in use after a full collection. */
function heapUsed(): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** A store that keeps nothing: appends succeed and streams read empty, so only the host's memory is measured. */
function forgetfulStore(): EventStore {
  let position = 0n
  return {
    appendToStream: (_name, events, options) => {
      const expected = options?.expectedRevision
      const last = (typeof expected === 'bigint' ? expected : -1n) + BigInt(events.length)
      position += 1n
      return Promise.resolve({ nextRevision: last, position })
    },
    readStream: () => (async function* () {})(),
    readAll: () => (async function* () {})(),
    subscribeToAll: () => (async function* () {})(),
    headPosition: () => Promise.resolve(position),
    getStreamMetadata: () => Promise.resolve(undefined),
    setStreamMetadata: () => Promise.resolve(),
    close: () => Promise.resolve(),
  }
}

async function touch(bus: LocalCommandBus, count: number, prefix: string) {
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) {
        const n = next++
        await bus.execute({
          aggregate: 'Counter',
          command: 'increment',
          aggregateId: `${prefix}-${n}`,
          input: { by: 1 },
          commandId: randomUUID(),
        })
      }
    }),
  )
}

const bench: Bench = {
  name: 'sharding-memory',
  description: `${TOUCHED.toLocaleString('en')} aggregates touched once with passivation (bound ${MAX_HOSTED.toLocaleString('en')} held) vs a stated heap bound; bytes per hot aggregate vs its state`,
  async run(): Promise<BenchResult[]> {
    const store = forgetfulStore()
    const before = heapUsed()
    const bounded = createCommandBus({ store, aggregates: [Counter], maxHosted: MAX_HOSTED })
    await touch(bounded, TOUCHED, 'once')
    const held = bounded.host.hosted()
    const grownMb = (heapUsed() - before) / 2 ** 20
    bounded.close()

    const beforeHot = heapUsed()
    const hot = createCommandBus({ store, aggregates: [Counter], maxHosted: HOT * 2 })
    await touch(hot, HOT, 'hot')
    const perHosted = (heapUsed() - beforeHot) / HOT
    const hostedCount = hot.host.hosted()
    const beforeStates = heapUsed()
    const states = Array.from({ length: HOT }, (_, i) => ({ value: i, locked: false, steps: 1 }))
    const perState = (heapUsed() - beforeStates) / HOT
    hot.close()

    return [
      {
        figure: { label: 'heap growth', value: Math.round(grownMb * 10) / 10, unit: 'MB' },
        baseline: { label: 'stated bound', value: BOUND_MB, unit: 'MB' },
        ratio: BOUND_MB / Math.max(grownMb, 0.1),
        target: 1,
        notes: `after ${TOUCHED.toLocaleString('en')} aggregates touched once, ${held} held (maxHosted ${MAX_HOSTED}); a store that keeps nothing, so only the host is measured`,
      },
      {
        figure: { label: 'per hot aggregate', value: Math.round(perHosted), unit: 'bytes' },
        baseline: { label: 'its state alone', value: Math.round(perState), unit: 'bytes' },
        ratio: perState / perHosted,
        notes: `${hostedCount} hot Counter aggregates after one command each: overhead ${Math.round(perHosted - perState)} bytes over the state (mailbox entry, revision, recent-command window of one id); ${states.length} states measured alone`,
      },
    ]
  },
}

export default bench
