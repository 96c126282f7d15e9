/**
 * What the EventStoreDB adapter costs over the raw client, against the in-memory devstore on loopback gRPC.
 * Two rows: (1) sequential single-event appends through createEventStoreDbStore vs the same appends through
 * EventStoreDBClient.appendToStream; (2) a catch-up subscribeToAll of the same events through the adapter
 * (filter, ordered markers, conversion to RecordedEvent) vs the client's own subscription. Each ratio is
 * adapter throughput / client throughput (higher is better); the adapter should stay near the client.
 * Target: >= 0.8.
 *
 * Run: npm run bench -- eventstoredb-adapter
 */
import { randomUUID } from 'node:crypto'
import { EventStoreDBClient, eventTypeFilter, jsonEvent, START } from '@eventstore/db-client'
import { createDevStore } from '../devstore/create-dev-store.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import type { EventStore } from '../framework/event-store/event-store.ts'
import { median, pairedRatio, pairedRounds } from './paired-rounds.ts'

const APPENDS = Number(process.env['ADAPTER_BENCH_APPENDS'] ?? 250)
const EVENTS = Number(process.env['ADAPTER_BENCH_EVENTS'] ?? 5_000)
const WARM_UP = 50
// Pairs of rounds; even, so each side runs first as often as the other.
const ROUNDS = 20
const CATCH_UP_ROUNDS = 6
// Every event in the store is a Measured event: the warm-up, every append round and the history.
const MEASURED = 2 * WARM_UP + 2 * ROUNDS * APPENDS + EVENTS

const benchmark = {
  name: 'eventstoredb-adapter',
  description: `the EventStoreDB adapter vs the raw client: ${APPENDS} appends a round, a ${EVENTS}-event catch-up`,
  method: `Both sides share one client on an in-memory devstore in this process (loopback gRPC). Appends: ${ROUNDS} rounds of ${APPENDS} sequential single-event appends through createEventStoreDbStore and through EventStoreDBClient.appendToStream, each to a stream of its own, the order alternating from round to round after a warm-up of ${WARM_UP} per side; the ratio is the median of the rounds' paired ratios (client time / adapter time). Catch-up: ${CATCH_UP_ROUNDS} alternating rounds of a filtered subscribeToAll from the start over every Measured event, the adapter's (filter, markers, conversion to RecordedEvent) against the client's own. Target 0.8: the adapter is one call over the client's.`,
  run: async () => {
    const devStore = await createDevStore({ port: 0 })
    const client = EventStoreDBClient.connectionString(devStore.connectionString)
    const store = createEventStoreDbStore({ client })
    try {
      // Warm both paths (channel, server features, JIT) before timing.
      await timeClientAppends(client, 'warm-client', WARM_UP)
      await timeAdapterAppends(store, 'warm-adapter', WARM_UP)
      let round = 0
      const appends = await pairedRounds(ROUNDS, {
        adapter: () => timeAdapterAppends(store, `bench-adapter-${round++}`, APPENDS).then(rate(APPENDS)),
        client: () => timeClientAppends(client, `bench-client-${round++}`, APPENDS).then(rate(APPENDS)),
      })
      for (let from = 0; from < EVENTS; from += 500) {
        const batch = Array.from({ length: Math.min(500, EVENTS - from) }, (_, index) =>
          jsonEvent({ type: 'Measured', data: { n: from + index, note: 'x'.repeat(100) } }),
        )
        await client.appendToStream('bench-history', batch)
      }
      const reads = await pairedRounds(CATCH_UP_ROUNDS, {
        adapter: () => timeAdapterCatchUp(store).then(rate(MEASURED)),
        client: () => timeClientCatchUp(client).then(rate(MEASURED)),
      })
      const notes = 'in-memory devstore, loopback gRPC, one client shared by both paths'
      const appendRatio = pairedRatio(appends.adapter, appends.client)
      const readRatio = pairedRatio(reads.adapter, reads.client)
      return [
        {
          figure: {
            label: 'appends through the adapter',
            value: Math.round(median(appends.adapter)),
            unit: 'appends/s',
          },
          baseline: {
            label: 'appends through the client',
            value: Math.round(median(appends.client)),
            unit: 'appends/s',
          },
          ratio: appendRatio.ratio,
          target: 0.8,
          notes: `${APPENDS} sequential single-event appends a round; median of ${ROUNDS} alternating pairs (${appendRatio.rounds}); rates: each side's median; ${notes}`,
        },
        {
          figure: {
            label: 'catch-up through the adapter',
            value: Math.round(median(reads.adapter)),
            unit: 'events/s',
          },
          baseline: {
            label: 'catch-up through the client',
            value: Math.round(median(reads.client)),
            unit: 'events/s',
          },
          ratio: readRatio.ratio,
          target: 0.8,
          notes: `${MEASURED} events (most ~130 bytes) from the start of $all, event-type filter; median of ${CATCH_UP_ROUNDS} alternating pairs (${readRatio.rounds}); ${notes}`,
        },
      ]
    } finally {
      await store.close()
      await client.dispose()
      await devStore.close()
    }
  },
}

/** Milliseconds for `count` operations, as operations per second. */
function rate(count: number): (ms: number) => number {
  return (ms) => (count / ms) * 1000
}

export default benchmark

async function timeClientAppends(client: EventStoreDBClient, stream: string, count: number): Promise<number> {
  const started = performance.now()
  for (let n = 0; n < count; n++) {
    await client.appendToStream(stream, jsonEvent({ id: randomUUID(), type: 'Measured', data: { n } }))
  }
  return performance.now() - started
}

async function timeAdapterAppends(store: EventStore, stream: string, count: number): Promise<number> {
  const started = performance.now()
  for (let n = 0; n < count; n++) {
    await store.appendToStream(stream, [{ id: randomUUID(), type: 'Measured', data: { n } }])
  }
  return performance.now() - started
}

async function timeClientCatchUp(client: EventStoreDBClient): Promise<number> {
  const started = performance.now()
  const subscription = client.subscribeToAll({
    fromPosition: START,
    filter: eventTypeFilter({ regex: '^Measured$' }),
  })
  let seen = 0
  await new Promise<void>((resolve, reject) => {
    subscription.on('data', () => {
      if (++seen === MEASURED) resolve()
    })
    subscription.on('error', reject)
  })
  await subscription.unsubscribe()
  return performance.now() - started
}

async function timeAdapterCatchUp(store: EventStore): Promise<number> {
  const started = performance.now()
  const controller = new AbortController()
  let seen = 0
  for await (const message of store.subscribeToAll({ eventTypes: ['Measured'], signal: controller.signal })) {
    if (message.kind === 'event' && ++seen === MEASURED) controller.abort()
  }
  return performance.now() - started
}
