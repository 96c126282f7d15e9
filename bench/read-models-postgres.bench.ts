import { randomUUID } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { z } from 'zod'
import { defineAggregate } from '../framework/aggregate/define-aggregate.ts'
import { createEventStoreDbStore } from '../framework/event-store/eventstoredb-event-store.ts'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import type { EventStore, EventToAppend } from '../framework/event-store/event-store.ts'
import { createServer } from '../framework/server/create-server.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { defineProjection } from '../projections/define-projection.ts'
import { createPostgresReadModels } from '../projections/read-models/postgres/postgres-read-models.ts'
import { quote } from '../projections/read-models/postgres/list-sql.ts'
import type { PostgresReadModelStore } from '../projections/read-models/postgres/postgres-read-model-store.ts'
import type { ReadModelDatabase } from '../projections/read-models/read-model-database.ts'
import { startThrowawayPostgres } from '../scripts/throwaway-postgres.ts'
import { startDevStoreProcess } from './projection-catchup.bench.ts'
import type { Bench, BenchResult } from './run.ts'

const PER_APPEND = 1_000
const WRITERS = 16

/** A sensor whose every reading is a row of its own: a catch-up that writes one row per event. */
const Sensor = defineAggregate({
  name: 'Sensor',
  state: z.object({}),
  initialState: {},
  events: { Reading: z.object({ id: z.string(), siteId: z.string(), kw: z.number() }) },
  commands: {},
  evolve: { Reading: (state) => state },
})

export const readings = defineProjection({
  name: 'readings',
  row: z.object({ id: z.string(), siteId: z.string(), kw: z.number(), sensorId: z.string() }),
  key: 'id',
  from: [Sensor],
  validateRows: false,
  handlers: {
    Reading: {
      key: (event) => event.data.id,
      handle: (_row, { data }, { aggregateId }) => ({ ...data, sensorId: aggregateId }),
    },
  },
})

const reading = (n: number) => ({ id: `r${n}`, siteId: `site-${n % 97}`, kw: (n % 1000) / 10 })
const sensorOf = (n: number) => `s${Math.floor(n / PER_APPEND)}`

async function seed(store: EventStore, count: number, writers = WRITERS): Promise<void> {
  let next = 0
  const writer = async () => {
    while (next < count) {
      const start = next
      next += PER_APPEND
      const events: EventToAppend[] = []
      for (let n = start; n < Math.min(count, start + PER_APPEND); n++) {
        events.push({ id: randomUUID(), type: 'Reading', data: reading(n) })
      }
      await store.appendToStream(`Sensor-${sensorOf(start)}`, events)
    }
  }
  await Promise.all(Array.from({ length: writers }, writer))
}

/** Catches `readings` up into a fresh schema; the milliseconds until its checkpoint reached the head. */
async function catchUp(store: EventStore, url: string, schema: string): Promise<number> {
  const head = await store.headPosition()
  const started = performance.now()
  const readSide = await createReadSide({
    projections: [readings],
    database: createPostgresReadModels({ url, schema }),
  }).create({ store, commands: { execute: () => Promise.reject(new Error('no commands')) }, env: {} })
  await readSide.start()
  await readSide.sources[0]!.waitFor(head, 1_800_000)
  const ms = performance.now() - started
  await readSide.stop()
  return ms
}

/** A filtered subscribeToAll that does nothing with the events: how fast the log alone is read. */
async function bareRead(store: EventStore): Promise<number> {
  const started = performance.now()
  const abort = new AbortController()
  for await (const message of store.subscribeToAll({ eventTypes: ['Reading'], signal: abort.signal })) {
    if (message.kind === 'caughtUp') break
  }
  abort.abort()
  return performance.now() - started
}

/** COPYs the same rows the projection writes into a table of the same columns and indexes, through pg. */
async function copyRows(url: string, schema: string, count: number): Promise<number> {
  const database = createPostgresReadModels({ url, schema })
  const store = database.store(readings) as PostgresReadModelStore<unknown>
  await store.open()
  const client = new pg.Client(url)
  await client.connect()
  try {
    const started = performance.now()
    const columns = store.rows.columns.map((column) => quote(column.field)).join(', ')
    const target = `${quote(schema)}.${quote(store.table!)}`
    const stream = client.query(copyFrom(`copy ${target} ("_key", "_row", ${columns}) from stdin`))
    await pipeline(Readable.from(copyLines(count, store)), stream)
    return performance.now() - started
  } finally {
    await client.end()
    await database.close()
  }
}

function* copyLines(count: number, store: PostgresReadModelStore<unknown>): Generator<string> {
  let chunk = ''
  for (let n = 0; n < count; n++) {
    const row: Record<string, unknown> = { ...reading(n), sensorId: sensorOf(n) }
    const values = [
      row['id'],
      escapeCopy(store.rows.toJson(row)),
      ...store.rows.columns.map((c) => c.encode(row[c.field])),
    ]
    chunk += `${values.join('\t')}\n`
    if (chunk.length > 1 << 16) {
      yield chunk
      chunk = ''
    }
  }
  if (chunk) yield chunk
}

function escapeCopy(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n')
}

/** From createServer to the first 200 of /health/ready, on `database`. */
async function restartToReady(
  eventStoreUrl: string,
  database: () => string | ReadModelDatabase,
): Promise<number> {
  const started = performance.now()
  const app = await createServer({
    aggregates: [Sensor],
    readSide: createReadSide({ projections: [readings], database: database() }),
    store: eventStoreUrl,
    logger: false,
    env: { NODE_ENV: 'production' },
    // Production as deployed, but anonymous on loopback and with /metrics beside the gateway.
    auth: 'none',
    metrics: 'main',
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/health/ready`
  for (;;) {
    if ((await fetch(url)).status === 200) break
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const ms = performance.now() - started
  await app.close()
  return ms
}

/** Waits until the log's head has not moved for two seconds. */
async function headAtRest(store: EventStore): Promise<void> {
  for (let head = await store.headPosition(); ;) {
    await new Promise((resolve) => setTimeout(resolve, 2_000))
    const now = await store.headPosition()
    if (now === head) return
    head = now
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const benchmark: Bench = {
  name: 'read-models-postgres',
  description:
    'PostgreSQL read models, 1,000,000 events: catch-up vs COPY of the same rows through pg; restart to ready vs the in-memory replay',
  async run(): Promise<BenchResult[]> {
    const count = Number(process.env['READ_MODELS_EVENTS'] ?? 1_000_000)
    const rounds = Number(process.env['READ_MODELS_ROUNDS'] ?? 2)
    const postgres = await startThrowawayPostgres({ durable: true })
    if (!postgres) throw new Error('This benchmark needs the PostgreSQL server binaries (pg_config --bindir)')
    const devStore = await startDevStoreProcess()
    const store = createEventStoreDbStore(devStore.connectionString)
    // The same events in this process too: the catch-up from them is the read models' own work.
    const inMemory = createInMemoryEventStore()
    try {
      const seeding = performance.now()
      await seed(store, count)
      const seedMs = performance.now() - seeding
      await seed(inMemory, count, 1)
      const paired = async (first: () => Promise<number>, second: () => Promise<number>) => {
        const a: number[] = []
        const b: number[] = []
        for (let round = 0; round < rounds; round++) {
          if (round % 2 === 0) {
            a.push(await first())
            b.push(await second())
          } else {
            b.push(await second())
            a.push(await first())
          }
        }
        return [a, b] as const
      }
      let schemas = 0
      const [catchUps, copies] = await paired(
        () => catchUp(inMemory, postgres.url, `bench_${schemas++}`),
        () => copyRows(postgres.url, `copy_${schemas++}`, count),
      )
      const catchUpRatios = catchUps.map((ms, round) => copies[round]! / ms)
      const [endToEnd, bares] = await paired(
        () => catchUp(store, postgres.url, `bench_${schemas++}`),
        () => bareRead(store),
      )
      const endToEndRatios = endToEnd.map((ms, round) => bares[round]! / ms)
      const lastSchema = `bench_${schemas - 1}`
      // The devstore appends its system projections' link events after the seeding, and the catch-ups above
      // stopped at the head they started from: the restarts are measured with every event projected, so the
      // last schema's checkpoint is first brought to the log's head once it stands still.
      await headAtRest(store)
      await catchUp(store, postgres.url, lastSchema)
      // Restarts over the last catch-up's schema resume from its checkpoint; the baseline replays into memory.
      const restarts: number[] = []
      const replays: number[] = []
      const restartRounds = Math.max(2, rounds)
      const onPostgres = () => createPostgresReadModels({ url: postgres.url, schema: lastSchema })
      const replayed = () => 'memory'
      for (let round = 0; round < restartRounds; round++) {
        if (round % 2 === 0) {
          restarts.push(await restartToReady(devStore.connectionString, onPostgres))
          replays.push(await restartToReady(devStore.connectionString, replayed))
        } else {
          replays.push(await restartToReady(devStore.connectionString, replayed))
          restarts.push(await restartToReady(devStore.connectionString, onPostgres))
        }
      }
      const restartRatios = restarts.map((ms, round) => replays[round]! / ms)
      const perSecond = (ms: number) => Math.round(count / (ms / 1000))
      return [
        {
          figure: {
            label: `catch-up of ${count} events into PostgreSQL`,
            value: perSecond(median(catchUps)),
            unit: 'rows/s',
          },
          baseline: {
            label: 'COPY of the same rows through pg',
            value: perSecond(median(copies)),
            unit: 'rows/s',
          },
          ratio: median(catchUpRatios),
          target: 0.5,
          notes: `one row per event (3 indexed columns, jsonb row); catch-up ${catchUps.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' / ')}, COPY ${copies.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' / ')}; pair ratios ${catchUpRatios.map((r) => r.toFixed(2)).join(' ')}; events already in this process (an in-memory event store), so the figure is the read models' own work: fold, JSON, the commit statement; PostgreSQL 15 with fsync on; devstore seeding ${(seedMs / 1000).toFixed(0)} s`,
        },
        {
          figure: {
            label: `catch-up of ${count} events from the devstore into PostgreSQL`,
            value: perSecond(median(endToEnd)),
            unit: 'events/s',
          },
          baseline: {
            label: 'bare subscribeToAll of the same events',
            value: perSecond(median(bares)),
            unit: 'events/s',
          },
          ratio: median(endToEndRatios),
          notes: `end to end, the log read over gRPC from a devstore in a child process; catch-up ${endToEnd.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' / ')}, bare read ${bares.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' / ')}; pair ratios ${endToEndRatios.map((r) => r.toFixed(2)).join(' ')}`,
        },
        {
          figure: {
            label: `restart to ready over ${count} projected events`,
            value: Math.round(median(restarts)),
            unit: 'ms',
          },
          baseline: {
            label: 'restart to ready replaying them into memory',
            value: Math.round(median(replays)),
            unit: 'ms',
          },
          ratio: median(restartRatios),
          target: 20,
          notes: `createServer to the first 200 of /health/ready, the checkpoint at the log's head (after the devstore's link events); PostgreSQL ${restarts.map((ms) => `${ms.toFixed(0)} ms`).join(' / ')}, memory ${replays.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(' / ')}; pair ratios ${restartRatios.map((r) => r.toFixed(1)).join(' ')}; target also: under 1,000 ms`,
        },
      ]
    } finally {
      await store.close()
      await devStore.stop()
      await postgres.stop()
    }
  },
}

export default benchmark
