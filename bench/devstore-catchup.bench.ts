/**
 * Catch-up reading through @eventstore/db-client: subscribeToAll from the start over 1,000,000 events of a
 * file-backed devstore, until the last one arrives. Baseline, in the same run: a bare @grpc/grpc-js server on
 * the same Streams service definition streaming ReadResp messages already encoded to bytes, as the devstore
 * writes them (confirmation, the events, caught_up), read by the same client: the real ceiling of transport
 * and client decoding, with no serializing on the server's side. Target: 70%. The devstore runs without its
 * system projections, which would otherwise link the million events while the catch-up reads them.
 *
 * Run: npm run bench -- devstore-catchup
 * DEVSTORE_CATCHUP_EVENTS sets the event count (default 1,000,000).
 */
import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventStoreDBClient } from '@eventstore/db-client'
import { Server, ServerCredentials, type ServerWritableStream } from '@grpc/grpc-js'
import { createDevStore } from '../devstore/create-dev-store.ts'
import { openEngine } from '../devstore/engine/open-engine.ts'
import type { ProposedEvent, StoredEvent } from '../devstore/engine/engine.ts'
import { encodeEvent } from '../devstore/grpc/encode-event.ts'
import { ReadResp, StreamsService, type ReadReq } from '../devstore/grpc/protocol.ts'
import type { BenchResult } from './run.ts'

const PREBUILT = 10_000
const STREAMS = 1_000

const benchmark = {
  name: 'devstore-catchup',
  description:
    'devstore subscribeToAll catch-up of 1,000,000 events through the real client vs a bare grpc-js server streaming pre-encoded bytes',
  run: async (): Promise<BenchResult> => {
    const total = Number(process.env['DEVSTORE_CATCHUP_EVENTS'] ?? 1_000_000)
    const dataDir = await mkdtemp(join(tmpdir(), 'devstore-catchup-'))
    try {
      const stored = await fill(dataDir, total)
      const baseline = await startPrebuiltServer(stored)
      const store = await createDevStore({ dataDir, systemProjections: false })
      try {
        const ceiling = await catchUp(`esdb://127.0.0.1:${baseline.port}?tls=false`, total)
        const rate = await catchUp(store.connectionString, total)
        const ceilingAgain = await catchUp(`esdb://127.0.0.1:${baseline.port}?tls=false`, total)
        const best = Math.max(ceiling, ceilingAgain)
        return {
          figure: {
            label: `devstore catch-up of ${total} events`,
            value: Math.round(rate),
            unit: 'events/s',
          },
          baseline: { label: 'grpc-js server, pre-encoded bytes', value: Math.round(best), unit: 'events/s' },
          ratio: rate / best,
          target: 0.7,
          notes: `file-backed log of ${total} events in ${STREAMS} streams; baseline best of two runs`,
        }
      } finally {
        await store.close()
        baseline.server.forceShutdown()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  },
}

export default benchmark

/** Writes `total` events straight through the engine (in about a second per 100,000); returns the first PREBUILT of them for the baseline. */
async function fill(dataDir: string, total: number): Promise<StoredEvent[]> {
  const engine = await openEngine({ dataDir })
  const data = Buffer.from(JSON.stringify({ kw: 5, site: 'site-17', note: 'x'.repeat(120) }))
  const metadata = new Uint8Array()
  const append = (written: number) => {
    const count = Math.min(1000, total - written)
    const events: ProposedEvent[] = Array.from({ length: count }, () => ({
      id: randomUUID(),
      type: 'Charged',
      contentType: 'application/json',
      data,
      metadata,
    }))
    return engine.append(`battery-${(written / 1000) % STREAMS}`, 'any', events)
  }
  // Appends of 1,000 events, sixteen at a time: the group commit writes each sixteen with one fsync.
  for (let written = 0; written < total; written += 16_000) {
    const group: Promise<unknown>[] = []
    for (let at = written; at < Math.min(total, written + 16_000); at += 1000) group.push(append(at))
    await Promise.all(group)
  }
  const sample: StoredEvent[] = []
  for await (const event of engine.readAllFrom('start')) {
    if (!event.stream.startsWith('$')) sample.push(event)
    if (sample.length === PREBUILT) break
  }
  await engine.close()
  return sample
}

/** Subscribes to $all from the start and resolves with events/s once `total` non-system events arrived. */
async function catchUp(connectionString: string, total: number): Promise<number> {
  const client = EventStoreDBClient.connectionString(connectionString)
  try {
    const started = performance.now()
    const subscription = client.subscribeToAll()
    let received = 0
    await new Promise<void>((resolve, reject) => {
      subscription.on('error', reject)
      subscription.on('data', (resolved: { event?: { streamId: string } }) => {
        if (resolved.event!.streamId.startsWith('$')) return
        if (++received === total) resolve()
      })
    })
    const rate = total / ((performance.now() - started) / 1000)
    await subscription.unsubscribe()
    return rate
  } finally {
    await client.dispose()
  }
}

/** Streams.Read answered from memory: confirmation, then prebuilt events cycled up to `total`, then caught_up. */
async function startPrebuiltServer(
  sample: readonly StoredEvent[],
): Promise<{ server: Server; port: number }> {
  const encoding = { structuredUuids: false, withCommitPosition: true, resolveLinks: false }
  const noLinks = { resolveLink: () => undefined } as unknown as Parameters<typeof encodeEvent>[0]
  // Encoded once: every write hands grpc-js bytes, as the devstore's encodeEvent does.
  const prebuilt = sample.map((event) => encodeEvent(noLinks, event, encoding))
  const total = Number(process.env['DEVSTORE_CATCHUP_EVENTS'] ?? 1_000_000)
  const server = new Server()
  server.addService(StreamsService, {
    read: (call: ServerWritableStream<ReadReq, InstanceType<typeof ReadResp>>) => {
      const confirmation = new ReadResp()
      const confirmed = new ReadResp.SubscriptionConfirmation()
      confirmed.setSubscriptionId(randomUUID())
      confirmation.setConfirmation(confirmed)
      call.write(confirmation)
      let sent = 0
      let open = true
      call.on('cancelled', () => (open = false))
      const pump = () => {
        while (open && sent < total) {
          if (!call.write(prebuilt[sent++ % prebuilt.length]!)) return void call.once('drain', pump)
        }
        if (!open) return
        const caughtUp = new ReadResp()
        caughtUp.setCaughtUp(new ReadResp.CaughtUp())
        call.write(caughtUp)
      }
      pump()
    },
  })
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return { server, port }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await benchmark.run()
  console.log(
    `${result.figure.label}: ${result.figure.value} ${result.figure.unit} vs ${result.baseline.label}: ` +
      `${result.baseline.value}, ratio ${result.ratio.toFixed(2)} (target ${result.target})`,
  )
}
