/**
 * The two servers of the devstore-append benchmark, each able to run in this process or in a child process
 * of its own (bench/devstore-server-child.ts): the devstore, file-backed, with its engine's commit and fsync
 * counters; and the transport ceiling, a bare @grpc/grpc-js server on the same Streams service definition
 * that answers each BatchAppend request with a success at once, through the devstore's own codec.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js'
import { openEngine } from '../devstore/engine/open-engine.ts'
import { FaultState } from '../devstore/faults.ts'
import { createServerFeaturesService } from '../devstore/grpc/server-features-service.ts'
import { startDevStoreServer } from '../devstore/grpc/server.ts'
import { projectionsService } from '../devstore/projections/projections-service.ts'
import type { DecodedBatchAppendRequest } from '../devstore/grpc/decode-batch-append-request.ts'
import { encodeBatchAppendReply } from '../devstore/grpc/encode-batch-append-reply.ts'
import { uuidKeyOf } from '../devstore/grpc/request-fields.ts'
import { servedStreamsService } from '../devstore/grpc/streams-service.ts'

/** The devstore (without its system projections), the devstore with them, or a gRPC echo server. */
export type BenchServerKind = 'store' | 'projecting' | 'echo'

/** Counters read before and after a measurement; the echo server commits and syncs nothing. */
export interface BenchServerStats {
  readonly commits: number
  readonly fsyncs: number
  /** CPU time (user + system) of the process that serves, in microseconds. */
  readonly cpuMicros: number
}

export interface BenchServer {
  readonly connectionString: string
  stats(): Promise<BenchServerStats>
  close(): Promise<void>
}

const READY_TIMEOUT_MS = 20_000
const REPLY_TIMEOUT_MS = 5_000
const EXIT_TIMEOUT_MS = 5_000
const childScript = fileURLToPath(new URL('./devstore-server-child.ts', import.meta.url))

/** Starts the server in this process (`dataDir` is required for the store). */
export async function startBenchServer(kind: BenchServerKind, dataDir: string): Promise<BenchServer> {
  if (kind === 'echo') return startEchoServer()
  const engine = await openEngine({ dataDir })
  try {
    const server = await startDevStoreServer({
      engine,
      host: '127.0.0.1',
      port: 0,
      faults: new FaultState(),
      ...(kind === 'projecting' ? { services: [projectionsService(true)] } : {}),
    })
    return {
      connectionString: `esdb://127.0.0.1:${server.port}?tls=false`,
      stats: () => Promise.resolve({ ...engine.stats(), cpuMicros: cpuMicros() }),
      close: async () => {
        await server.close()
        await engine.close()
      },
    }
  } catch (error) {
    await engine.close()
    throw error
  }
}

/**
 * Starts the server in a child process, as a database runs: its CPU is not the client's. The child is
 * killed if it is not ready in time, and on close (SIGKILL if SIGTERM does not end it in time).
 */
export async function forkBenchServer(
  kind: BenchServerKind,
  dataDir: string,
  execArgv: readonly string[] = [],
): Promise<BenchServer> {
  const child = fork(childScript, [kind, dataDir], {
    execArgv: ['--conditions=development', '--import', 'tsx', ...execArgv],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const exited = once(child, 'exit')
  const close = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS)
    await exited
    clearTimeout(timer)
  }
  const reply = <T>(what: string, ms: number) =>
    new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`bench ${kind} server: no ${what} in ${ms} ms`)), ms)
      const onMessage = (message: T) => {
        clearTimeout(timer)
        child.off('exit', onExit)
        resolve(message)
      }
      const onExit = (code: number | null) => fail(new Error(`bench ${kind} server exited (${code})`))
      const fail = (error: Error) => {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
        reject(error)
      }
      child.once('message', onMessage)
      child.once('exit', onExit)
    })
  try {
    const { connectionString } = await reply<{ connectionString: string }>('ready', READY_TIMEOUT_MS)
    return {
      connectionString,
      stats: () => {
        const answer = reply<BenchServerStats>('stats', REPLY_TIMEOUT_MS)
        child.send('stats')
        return answer
      },
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

/** User + system CPU time of this process, in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage()
  return user + system
}

/**
 * The ceiling: Streams.BatchAppend answered with a success per request, and the features that select it.
 * It reads requests with the devstore's own decoder and writes replies with its own encoder (the cheapest
 * codec at hand, and the same work per request as the devstore's), so the ratio measures the store alone.
 */
async function startEchoServer(): Promise<BenchServer> {
  const server = new Server()
  let position = 0n
  server.addService(servedStreamsService, {
    batchAppend: (call: ServerDuplexStream<DecodedBatchAppendRequest, unknown>) => {
      const counts = new Map<string, number>()
      call.on('data', (request: DecodedBatchAppendRequest) => {
        const key = uuidKeyOf(request.correlationId)
        const count = (counts.get(key) ?? 0) + request.proposedMessages.length
        if (!request.isFinal) return void counts.set(key, count)
        counts.delete(key)
        position += BigInt(count * 300)
        const head = {
          correlationId: request.correlationId ?? { kind: 'empty' as const },
          streamName: request.options?.streamIdentifier?.streamName ?? new Uint8Array(),
          expected: request.options?.expected ?? ('any' as const),
        }
        call.write(encodeBatchAppendReply(head, { kind: 'success', revision: BigInt(count - 1), position }))
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
  return {
    connectionString: `esdb://127.0.0.1:${port}?tls=false`,
    stats: () => Promise.resolve({ commits: 0, fsyncs: 0, cpuMicros: cpuMicros() }),
    close: () => Promise.resolve(server.forceShutdown()),
  }
}
