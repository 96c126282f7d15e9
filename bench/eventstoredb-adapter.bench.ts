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

const APPENDS = Number(process.env['ADAPTER_BENCH_APPENDS'] ?? 1_000)
const EVENTS = Number(process.env['ADAPTER_BENCH_EVENTS'] ?? 5_000)
const WARM_UP = 50
const ROUNDS = 2
// Every event in the store is a Measured event: the warm-up, every append round and the history.
const MEASURED = 2 * WARM_UP + 2 * ROUNDS * APPENDS + EVENTS

const benchmark = {
  name: 'eventstoredb-adapter',
  description: `the EventStoreDB adapter vs the raw client: ${APPENDS} appends, a ${EVENTS}-event catch-up`,
  run: async () => {
    const devStore = await createDevStore({ port: 0 })
    const client = EventStoreDBClient.connectionString(devStore.connectionString)
    const store = createEventStoreDbStore({ client })
    try {
      // Warm both paths (channel, server features, JIT) before timing.
      await timeClientAppends(client, 'warm-client', WARM_UP)
      await timeAdapterAppends(store, 'warm-adapter', WARM_UP)
      // Alternate the two paths and keep each one's best round, so neither gains from running second.
      let clientAppendMs = Infinity
      let adapterAppendMs = Infinity
      for (let round = 0; round < ROUNDS; round++) {
        clientAppendMs = Math.min(
          clientAppendMs,
          await timeClientAppends(client, `bench-client-${round}`, APPENDS),
        )
        adapterAppendMs = Math.min(
          adapterAppendMs,
          await timeAdapterAppends(store, `bench-adapter-${round}`, APPENDS),
        )
      }
      for (let from = 0; from < EVENTS; from += 500) {
        const batch = Array.from({ length: Math.min(500, EVENTS - from) }, (_, index) =>
          jsonEvent({ type: 'Measured', data: { n: from + index, note: 'x'.repeat(100) } }),
        )
        await client.appendToStream('bench-history', batch)
      }
      let clientReadMs = Infinity
      let adapterReadMs = Infinity
      for (let round = 0; round < ROUNDS; round++) {
        clientReadMs = Math.min(clientReadMs, await timeClientCatchUp(client))
        adapterReadMs = Math.min(adapterReadMs, await timeAdapterCatchUp(store))
      }
      const perSecond = (count: number, ms: number) => Math.round((count / ms) * 1000)
      const read = MEASURED
      const notes = 'in-memory devstore, loopback gRPC, one client shared by both paths'
      return [
        {
          figure: {
            label: 'appends through the adapter',
            value: perSecond(APPENDS, adapterAppendMs),
            unit: 'appends/s',
          },
          baseline: {
            label: 'appends through the client',
            value: perSecond(APPENDS, clientAppendMs),
            unit: 'appends/s',
          },
          ratio: clientAppendMs / adapterAppendMs,
          target: 0.8,
          notes: `${APPENDS} sequential single-event appends, best of ${ROUNDS} alternating rounds; ${notes}`,
        },
        {
          figure: {
            label: 'catch-up through the adapter',
            value: perSecond(read, adapterReadMs),
            unit: 'events/s',
          },
          baseline: {
            label: 'catch-up through the client',
            value: perSecond(read, clientReadMs),
            unit: 'events/s',
          },
          ratio: clientReadMs / adapterReadMs,
          target: 0.8,
          notes: `${read} events (most ~130 bytes) from the start of $all, event-type filter, best of ${ROUNDS} alternating rounds; ${notes}`,
        },
      ]
    } finally {
      await store.close()
      await client.dispose()
      await devStore.close()
    }
  },
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
