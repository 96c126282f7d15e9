/**
 * How fast a persistent subscription delivers through the devstore: 5,000 events already in one stream are
 * delivered to one consumer of a RoundRobin group, which acks each batch it receives (buffer 100). Baseline,
 * in the same run, on the same devstore and client: a catch-up subscription reading the same 5,000 events.
 * The ratio is persistent throughput / catch-up throughput (higher is better); the persistent path does
 * more (acks, in-flight bookkeeping, checkpoints) so a ratio well under 1 is expected. Target: >= 0.25.
 *
 * Run: npm run bench -- persistent-subscription
 */
import {
  EventStoreDBClient,
  jsonEvent,
  persistentSubscriptionToStreamSettingsFromDefaults,
  START,
} from '@eventstore/db-client'
import type { PersistentSubscriptionToStreamResolvedEvent } from '@eventstore/db-client'
import { createDevStore } from '../devstore/create-dev-store.ts'

const EVENTS = Number(process.env['PERSISTENT_BENCH_EVENTS'] ?? 5_000)
const STREAM = 'bench-orders'

const benchmark = {
  name: 'persistent-subscription',
  description: `devstore: ${EVENTS} events through a persistent subscription with acks vs a catch-up subscription`,
  run: async () => {
    const store = await createDevStore({ port: 0 })
    const client = EventStoreDBClient.connectionString(store.connectionString)
    try {
      for (let from = 0; from < EVENTS; from += 500) {
        const batch = Array.from({ length: Math.min(500, EVENTS - from) }, (_, index) =>
          jsonEvent({ type: 'OrderPlaced', data: { n: from + index, note: 'x'.repeat(100) } }),
        )
        await client.appendToStream(STREAM, batch)
      }
      const catchUpMs = await timeCatchUp(client)
      const persistentMs = await timePersistent(client)
      const perSecond = (ms: number) => Math.round((EVENTS / ms) * 1000)
      return {
        figure: { label: 'persistent subscription, acked', value: perSecond(persistentMs), unit: 'events/s' },
        baseline: {
          label: 'catch-up subscription, same events',
          value: perSecond(catchUpMs),
          unit: 'events/s',
        },
        ratio: catchUpMs / persistentMs,
        target: 0.25,
        notes: `${EVENTS} events of ~130 bytes, one consumer, buffer 100, loopback gRPC, in-memory devstore`,
      }
    } finally {
      await client.dispose()
      await store.close()
    }
  },
}

export default benchmark

async function timeCatchUp(client: EventStoreDBClient): Promise<number> {
  const started = performance.now()
  const subscription = client.subscribeToStream(STREAM, { fromRevision: START })
  let seen = 0
  for await (const _ of subscription) {
    if (++seen === EVENTS) break
  }
  const elapsed = performance.now() - started
  await subscription.unsubscribe()
  return elapsed
}

async function timePersistent(client: EventStoreDBClient): Promise<number> {
  const settings = persistentSubscriptionToStreamSettingsFromDefaults({
    startFrom: START,
    readBatchSize: 100,
  })
  await client.createPersistentSubscriptionToStream(STREAM, 'bench', settings)
  const started = performance.now()
  const subscription = client.subscribeToPersistentSubscriptionToStream(STREAM, 'bench', { bufferSize: 100 })
  await new Promise<void>((resolve, reject) => {
    let seen = 0
    let pending: PersistentSubscriptionToStreamResolvedEvent[] = []
    subscription.on('error', reject)
    subscription.on('data', (event: PersistentSubscriptionToStreamResolvedEvent) => {
      pending.push(event)
      seen++
      if (pending.length >= 20 || seen === EVENTS) {
        const batch = pending
        pending = []
        subscription.ack(...batch).catch(reject)
      }
      if (seen === EVENTS) resolve()
    })
  })
  const elapsed = performance.now() - started
  await subscription.unsubscribe()
  return elapsed
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchmark.run())
}
