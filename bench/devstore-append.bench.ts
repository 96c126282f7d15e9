/**
 * Append throughput of the devstore through @eventstore/db-client (BatchAppend, file-backed, fsync on every
 * commit) at concurrency 1, 16, 64 and 256 and batches of 1, 10 and 100 events. Baseline, in the same run:
 * a bare @grpc/grpc-js server on the same Streams service definition that answers each BatchAppend request
 * with a success at once (the transport ceiling: same client, same payloads, no store).
 * Targets: 50% of the ceiling at concurrency 64, and concurrency 64 at least 10x concurrency 1.
 *
 * Run: npm run bench -- devstore-append
 * DEVSTORE_APPEND_SECONDS sets the time per measurement (default 1.5).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client'
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js'
import { createDevStore } from '../devstore/create-dev-store.ts'
import { createServerFeaturesService } from '../devstore/grpc/server-features-service.ts'
import {
  AllStreamPosition,
  BatchAppendResp,
  GoogleEmpty,
  StreamsService,
  type BatchAppendReq,
} from '../devstore/grpc/protocol.ts'
import type { BenchResult } from './run.ts'

const CONCURRENCY = [1, 16, 64, 256] as const
const BATCH = [1, 10, 100] as const

const benchmark = {
  name: 'devstore-append',
  description:
    'devstore appends/s through the real client (BatchAppend, fsync) at concurrency 1-256 and batches 1-100, vs a bare grpc-js echo server',
  run: async (): Promise<BenchResult[]> => {
    const seconds = Number(process.env['DEVSTORE_APPEND_SECONDS'] ?? 1.5)
    const dataDir = await mkdtemp(join(tmpdir(), 'devstore-append-'))
    const store = await createDevStore({ dataDir })
    const echo = await startEchoServer()
    const storeClient = EventStoreDBClient.connectionString(store.connectionString)
    const echoClient = EventStoreDBClient.connectionString(`esdb://127.0.0.1:${echo.port}?tls=false`)
    try {
      const results: BenchResult[] = []
      const storeRates = new Map<string, number>()
      for (const batch of BATCH) {
        for (const concurrency of CONCURRENCY) {
          const ceiling = await measure(echoClient, 'echo', concurrency, batch, seconds)
          const rate = await measure(storeClient, 'store', concurrency, batch, seconds)
          storeRates.set(`${concurrency}x${batch}`, rate)
          results.push({
            figure: {
              label: `devstore c${concurrency} b${batch}`,
              value: Math.round(rate),
              unit: 'events/s',
            },
            baseline: {
              label: `grpc-js echo c${concurrency} b${batch}`,
              value: Math.round(ceiling),
              unit: 'events/s',
            },
            ratio: rate / ceiling,
            ...(concurrency === 64 ? { target: 0.5 } : {}),
          })
        }
      }
      for (const batch of BATCH) {
        const c1 = storeRates.get(`1x${batch}`)!
        const c64 = storeRates.get(`64x${batch}`)!
        results.push({
          figure: { label: `devstore c64 b${batch}`, value: Math.round(c64), unit: 'events/s' },
          baseline: { label: `devstore c1 b${batch}`, value: Math.round(c1), unit: 'events/s' },
          ratio: c64 / c1,
          target: 10,
          notes: 'group commit: concurrent appends share an fsync',
        })
      }
      return results
    } finally {
      await storeClient.dispose()
      await echoClient.dispose()
      await store.close()
      echo.server.forceShutdown()
      await rm(dataDir, { recursive: true, force: true })
    }
  },
}

export default benchmark

/** Events per second appended by `concurrency` loops, each appending `batch` events to its own stream. */
async function measure(
  client: EventStoreDBClient,
  label: string,
  concurrency: number,
  batch: number,
  seconds: number,
): Promise<number> {
  const payload = { kw: 5, site: 'site-17', note: 'x'.repeat(120) }
  const run = async (warmup: boolean) => {
    const until = Date.now() + (warmup ? 200 : seconds * 1000)
    let events = 0
    await Promise.all(
      Array.from({ length: concurrency }, async (_, worker) => {
        const stream = `${label}-${concurrency}-${batch}-${worker}`
        while (Date.now() < until) {
          await client.appendToStream(
            stream,
            Array.from({ length: batch }, () => jsonEvent({ type: 'Charged', data: payload })),
          )
          events += batch
        }
      }),
    )
    return events
  }
  await run(true)
  const started = performance.now()
  const events = await run(false)
  return events / ((performance.now() - started) / 1000)
}

/** The ceiling: Streams.BatchAppend answered with a success per request, and the features that select it. */
async function startEchoServer(): Promise<{ server: Server; port: number }> {
  const server = new Server()
  let position = 0n
  server.addService(StreamsService, {
    batchAppend: (call: ServerDuplexStream<BatchAppendReq, InstanceType<typeof BatchAppendResp>>) => {
      const counts = new Map<string, number>()
      call.on('data', (request: BatchAppendReq) => {
        const key = request.getCorrelationId()!.getString()
        const count = (counts.get(key) ?? 0) + request.getProposedMessagesList().length
        if (!request.getIsFinal()) return void counts.set(key, count)
        counts.delete(key)
        const options = request.getOptions()
        const reply = new BatchAppendResp()
        reply.setCorrelationId(request.getCorrelationId())
        if (options !== undefined) reply.setStreamIdentifier(options.getStreamIdentifier())
        reply.setAny(new GoogleEmpty())
        const success = new BatchAppendResp.Success()
        success.setCurrentRevision(String(count - 1))
        const at = new AllStreamPosition()
        position += BigInt(count * 300)
        at.setCommitPosition(position.toString())
        at.setPreparePosition(position.toString())
        success.setPosition(at)
        reply.setSuccess(success)
        call.write(reply)
      })
      call.on('end', () => call.end())
    },
  })
  const features = createServerFeaturesService([
    { serviceName: 'event_store.client.streams.Streams', methodName: 'BatchAppend', features: [] },
  ])
  server.addService(features.definition, features.implementation)
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  )
  return { server, port }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const result of await benchmark.run()) {
    console.log(
      `${result.figure.label.padEnd(22)} ${String(result.figure.value).padStart(8)} ${result.figure.unit}  ` +
        `vs ${result.baseline.label.padEnd(24)} ${String(result.baseline.value).padStart(8)}  ratio ${result.ratio.toFixed(2)}` +
        (result.target === undefined ? '' : `  (target ${result.target})`),
    )
  }
}
