import Fastify, { type FastifyInstance } from 'fastify'
import {
  createInMemoryEventStore,
  type InMemoryEventStore,
} from '../framework/event-store/in-memory-event-store.ts'
import { createServer } from '../framework/server/create-server.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { Tank, TankLevel } from '../test/e2e/fixtures/tank.ts'

/** The gateway (graphql-jit on, limits that do not bite) and a plain fastify app beside it, on loopback. */
export interface BenchServers {
  readonly store: InMemoryEventStore
  readonly gateway: FastifyInstance
  readonly gatewayUrl: string
  readonly plain: FastifyInstance
  readonly plainUrl: string
  close(): Promise<void>
}

export async function startBenchServers(): Promise<BenchServers> {
  const store = createInMemoryEventStore()
  const gateway = await createServer({
    aggregates: [Tank],
    readSide: createReadSide({ projections: [TankLevel] }),
    store,
    logger: false,
    env: { NODE_ENV: 'production' },
    limits: { rateLimit: false, maxPageSize: 1000 },
  })
  const plain = Fastify({ logger: false })
  return {
    store,
    gateway,
    gatewayUrl: await listen(gateway),
    plain,
    plainUrl: '',
    async close() {
      await plain.close()
      await gateway.close()
    },
  }
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
}

/** Runs `request` from `concurrency` loops for `durationMs` and returns requests per second. */
export async function throughput(
  concurrency: number,
  durationMs: number,
  request: (worker: number, n: number) => Promise<void>,
): Promise<number> {
  const until = performance.now() + durationMs
  let done = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      for (let n = 0; performance.now() < until; n++) {
        await request(worker, n)
        done++
      }
    }),
  )
  return done / ((performance.now() - started) / 1000)
}

/**
 * Alternates the two sides over rounds (figure first, then baseline first, so drift on a shared machine falls
 * on both; give an even count, so that each order has as many rounds) and returns the median of the rounds'
 * ratios: each round pairs two measurements taken seconds apart, so a neighbour's burst moves one pair, not
 * the medians of two sides taken at different moments. `figure` and `baseline` are each side's median rate;
 * `rounds` lists each round's ratio, to show how noisy the machine was.
 */
export async function alternate(
  rounds: number,
  sides: { figure: () => Promise<number>; baseline: () => Promise<number> },
): Promise<{ figure: number; baseline: number; ratio: number; rounds: string }> {
  const figures: number[] = []
  const baselines: number[] = []
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      figures.push(await sides.figure())
      baselines.push(await sides.baseline())
    } else {
      baselines.push(await sides.baseline())
      figures.push(await sides.figure())
    }
  }
  const ratios = figures.map((figure, round) => figure / (baselines[round] ?? figure))
  return {
    figure: median(figures),
    baseline: median(baselines),
    ratio: median(ratios),
    rounds: ratios.map((ratio) => ratio.toFixed(2)).join(' '),
  }
}

/** The middle value; the mean of the two middle values of an even count. */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[middle] ?? 0
  return ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}
