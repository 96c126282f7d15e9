import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { createEventStoreDbStore, type EventStore } from 'annals'
import { createDevStore, type DevStore } from 'annals/devstore'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import { killHard, reservePorts, spawnReplica, type ReplicaProcess } from './cluster-harness.ts'
import { counters } from './fixtures/counter-read-side.ts'

const entry = fileURLToPath(new URL('./fixtures/read-side-replica.ts', import.meta.url))
const EVENTS = 30_000
const PER_APPEND = 100

let devstore: DevStore
let store: EventStore
let database: { url: string; drop(): Promise<void> }
let sql: pg.Client
const replicas: ReplicaProcess[] = []

beforeAll(async () => {
  if (!postgresUrl) return
  devstore = await createDevStore()
  store = createEventStoreDbStore(devstore.connectionString)
  database = await freshDatabase()
  sql = new pg.Client(database.url)
  await sql.connect()
  // 300 counters, 100 increments each, appended a counter's hundred at a time; one in 500 is a 7.
  for (let start = 0; start < EVENTS; start += PER_APPEND * 20) {
    await Promise.all(
      Array.from({ length: 20 }, (_, n) => {
        const counter = (start / PER_APPEND + n) % 300
        const events = Array.from({ length: PER_APPEND }, (_, i) => ({
          id: randomUUID(),
          type: 'Incremented',
          data: { by: (start + n * PER_APPEND + i) % 500 === 0 ? 7 : 1, sequence: i },
        }))
        return store.appendToStream(`Counter-c${counter}`, events)
      }),
    )
  }
}, 120_000)

afterAll(async () => {
  for (const replica of replicas) await killHard(replica)
  await sql?.end()
  await store?.close()
  await devstore?.close()
  await database?.drop()
})

async function startReplica(): Promise<ReplicaProcess> {
  const [port] = await reservePorts(1)
  const replica = await spawnReplica({
    port: port!,
    entry,
    env: {
      NODE_ENV: 'test',
      EVENTSTORE_URL: devstore.connectionString,
      DATABASE_URL: database.url,
      ANNALS_PROJECTION_LEASE_MS: '1000',
    },
  })
  replicas.push(replica)
  return replica
}

/** A query of the read-model tables; no rows before the first replica made them. */
async function select(text: string): Promise<Record<string, unknown>[]> {
  try {
    return (await sql.query(text)).rows as Record<string, unknown>[]
  } catch (error) {
    if ((error as { code?: string }).code === '42P01') return []
    throw error
  }
}

async function checkpoint(): Promise<bigint> {
  const rows = await select(
    `select c.position from annals.models m join annals.checkpoints c on c.table_name = m.table_name where m.name = 'counters'`,
  )
  return BigInt((rows[0] as { position: string } | undefined)?.position ?? '0')
}

async function incrementsFolded(): Promise<number> {
  const result = await sql.query(
    `select coalesce(sum(("_row"->>'increments')::int), 0) as n from annals.counters`,
  )
  return Number((result.rows[0] as { n: string }).n)
}

async function rows(): Promise<Map<string, unknown>> {
  const result = await sql.query(`select "_key", "_row" from annals.counters`)
  return new Map((result.rows as { _key: string; _row: unknown }[]).map((row) => [row._key, row._row]))
}

/** The rows the projection's own handlers give for the log up to `through`: what the table must hold. */
async function foldThrough(through: bigint): Promise<Map<string, unknown>> {
  const folded = new Map<string, unknown>()
  for await (const event of store.readAll()) {
    if (event.position > through) break
    const routed = counters.route(event)
    if (!routed) continue
    folded.set(routed.key, routed.handle(folded.get(routed.key) as never, routed.event, routed.context))
  }
  return folded
}

/** The position of the last increment: the projection's subscription skips reactor checkpoints after it. */
async function lastIncrement(): Promise<bigint> {
  for await (const event of store.readAll({
    direction: 'backwards',
    eventTypes: ['Incremented'],
    maxCount: 1,
  })) {
    return event.position
  }
  return 0n
}

async function countEcho(): Promise<number> {
  let echoes = 0
  for await (const event of store.readAll()) if (event.streamName.startsWith('Counter-echo-')) echoes++
  return echoes
}

const suite = postgresUrl ? describe : describe.skip

suite(
  `a projection owner killed with SIGKILL mid-catch-up${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('leaves rows equal to the fold up to the committed checkpoint each time; another replica takes over; effects happen once', async () => {
      const head = await store.headPosition()
      // Up to three owners in turn are killed as soon as their rows move on (were a batch's rows committed
      // apart from its checkpoint, that is when the two would disagree).
      for (let round = 0, folded = 0; round < 3 && (await checkpoint()) < head; round++) {
        const owner = await startReplica()
        const since = folded
        await vi.waitFor(async () => expect(await incrementsFolded()).toBeGreaterThan(since), {
          timeout: 60_000,
          interval: 2,
        })
        await killHard(owner)
        folded = await incrementsFolded()
        expect(await rows()).toEqual(await foldThrough(await checkpoint()))
      }

      await startReplica()
      // The echoes are events too: once they are all in the log, the model must fold it to its head.
      await vi.waitFor(async () => expect(await countEcho()).toBe(EVENTS / 500), {
        timeout: 60_000,
        interval: 100,
      })
      const end = await lastIncrement()
      await vi.waitFor(async () => expect(await checkpoint()).toBeGreaterThanOrEqual(end), {
        timeout: 60_000,
        interval: 20,
      })
      expect(await rows()).toEqual(await foldThrough(end))
    }, 180_000)
  },
)
