/**
 * How fresh a read model is under load: appends of ChargeReported to 1,000 batteries at a steady rate (default
 * 500/s for 10 s) on a devstore in a child process; for each, the time from the append's acknowledgement to
 * the change published on the projection's change feed, against the time to the same event's delivery on a
 * bare subscribeToAll running alongside. Target: p99 within 2 x the bare p99 + 5 ms (ratio >= 1).
 *
 * Run: npm run bench -- projection-freshness   (PROJECTION_FRESHNESS_SECONDS, PROJECTION_FRESHNESS_RATE)
 */
import { randomUUID } from 'node:crypto'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { batteryStatus } from '../test/projections/battery-fixtures.ts'
import { startDevStoreProcess } from './projection-catchup.bench.ts'
import type { Bench, BenchResult } from './run.ts'

const BATTERIES = 1_000

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

const benchmark: Bench = {
  name: 'projection-freshness',
  description:
    'append acknowledged -> change published on the read model feed, p50/p99 under load, vs delivery on a bare subscribeToAll',
  run: async (): Promise<BenchResult[]> => {
    const seconds = Number(process.env['PROJECTION_FRESHNESS_SECONDS'] ?? 10)
    const rate = Number(process.env['PROJECTION_FRESHNESS_RATE'] ?? 500)
    const devStore = await startDevStoreProcess()
    const store = createEventStoreDbStore(devStore.connectionString)
    const definition = batteryStatus({ validateRows: false })
    const readSide = await createReadSide({ projections: [definition] }).create({
      store,
      commands: { execute: () => Promise.reject(new Error('no commands here')) },
    })
    const abort = new AbortController()
    const observers: Promise<void>[] = []
    try {
      for (let b = 0; b < BATTERIES; b += 50) {
        await Promise.all(
          Array.from({ length: 50 }, (_, n) =>
            store.appendToStream(`Battery-b${b + n}`, [
              { id: randomUUID(), type: 'BatteryInstalled', data: { siteId: 's1', capacityKwh: 10 } },
            ]),
          ),
        )
      }
      await readSide.start()
      const model = readSide.sources[0]!
      await model.waitFor(await store.headPosition(), 60_000)
      const acked = new Map<bigint, number>()
      const published = new Map<bigint, number>()
      const delivered = new Map<bigint, number>()
      const feed = (async () => {
        for await (const change of model.changes({ signal: abort.signal }))
          published.set(change.position, performance.now())
      })()
      const bare = (async () => {
        const from = await store.headPosition()
        for await (const message of store.subscribeToAll({
          fromPosition: from,
          eventTypes: definition.eventTypes,
          signal: abort.signal,
        })) {
          if (message.kind === 'event') delivered.set(message.event.position, performance.now())
        }
      })()
      observers.push(feed, bare)
      const pending: Promise<void>[] = []
      const perTick = Math.max(1, Math.round(rate / 100))
      const ticks = seconds * 100
      for (let tick = 0; tick < ticks; tick++) {
        for (let n = 0; n < perTick; n++) {
          const battery = `Battery-b${Math.floor(Math.random() * BATTERIES)}`
          const event = {
            id: randomUUID(),
            type: 'ChargeReported',
            data: { percent: Math.floor(Math.random() * 100) },
          }
          pending.push(
            store
              .appendToStream(battery, [event])
              .then((result) => void acked.set(result.position, performance.now())),
          )
        }
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await Promise.all(pending)
      const last = [...acked.keys()].reduce((a, b) => (a > b ? a : b), 0n)
      await model.waitFor(last, 60_000)
      while (!delivered.has(last)) await new Promise((resolve) => setTimeout(resolve, 10))
      const latencies = (seen: Map<bigint, number>) =>
        [...acked].flatMap(([position, at]) => {
          const when = seen.get(position)
          return when === undefined ? [] : [Math.max(0, when - at)]
        })
      const model_ = latencies(published)
      const base = latencies(delivered)
      const p99 = percentile(model_, 99)
      const bareP99 = percentile(base, 99)
      const bound = 2 * bareP99 + 5
      const note = `${acked.size} appends at ~${rate}/s for ${seconds} s; ${model_.length} changes and ${base.length} deliveries matched; devstore in a child process`
      return [
        {
          figure: { label: 'read model p99 (ack -> change published)', value: p99, unit: 'ms' },
          baseline: { label: 'bare subscription p99 (ack -> delivered)', value: bareP99, unit: 'ms' },
          ratio: bound / p99,
          target: 1,
          notes: `ratio = (2 x bare p99 + 5 ms) / read model p99; ${note}`,
        },
        {
          figure: { label: 'read model p50', value: percentile(model_, 50), unit: 'ms' },
          baseline: { label: 'bare subscription p50', value: percentile(base, 50), unit: 'ms' },
          ratio: (percentile(base, 50) + 1) / (percentile(model_, 50) + 1),
          notes: 'ratio = (bare p50 + 1 ms) / (read model p50 + 1 ms), for orientation only',
        },
      ]
    } finally {
      abort.abort()
      await Promise.allSettled(observers)
      await readSide.stop()
      await store.close()
      await devStore.stop()
    }
  },
}

export default benchmark
