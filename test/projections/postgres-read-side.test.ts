import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { ReadModelSource, RowChange } from '../../framework/read-model/read-model-source.ts'
import type { AnyProjection, ProjectionReadSide } from '../../projections/create-read-side.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelDatabase } from '../../projections/read-models/read-model-database.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'
import {
  Battery,
  batteryStatus,
  charge,
  foldBatteryStatus,
  installed,
  noise,
  type BatteryStatusRow,
} from './battery-fixtures.ts'
import { gateCommits } from './commit-gate.fixture.ts'
import { allRows } from './read-model-store-fixtures.ts'
import { openReadSide } from './read-side.fixture.ts'

let server: { url: string; drop(): Promise<void> } | undefined
const running: (ProjectionReadSide | ReadModelDatabase)[] = []
beforeAll(async () => {
  if (postgresUrl) server = await freshDatabase()
})
afterEach(async () => {
  for (const item of running.splice(0).reverse()) await ('sources' in item ? item.stop() : item.close())
})
afterAll(async () => {
  await server?.drop()
})

/** A schema per test: the replicas of one service share it. */
const newSchema = () => `s_${randomBytes(4).toString('hex')}`

/** One replica's read side over the shared schema, started. */
async function replica(
  store: EventStore,
  schema: string,
  options: {
    name: string
    projections?: readonly AnyProjection[]
    database?: ReadModelDatabase
    leaseMs?: number
  },
) {
  const database =
    options.database ??
    createPostgresReadModels({ url: server!.url, schema, poolSize: 3, leaseMs: options.leaseMs ?? 5_000 })
  const readSide = await openReadSide(store, {
    projections: options.projections ?? [batteryStatus()],
    database,
    replica: options.name,
    resubscribeRetry: { initialDelayMs: 5, maxDelayMs: 50 },
  })
  running.push(readSide)
  await readSide.start()
  const model = readSide.sources[0] as ReadModelSource<BatteryStatusRow>
  return { readSide, model, database }
}

async function ownerOf(schema: string, projection: string): Promise<string | null> {
  const client = new pg.Client(server!.url)
  await client.connect()
  try {
    const result = await client.query(`select owner from "${schema}".models where name = $1`, [projection])
    return (result.rows[0] as { owner: string | null } | undefined)?.owner ?? null
  } finally {
    await client.end()
  }
}

/** The position of a projection's checkpoint as the database holds it. */
async function checkpointOf(schema: string, projection: string): Promise<bigint> {
  const client = new pg.Client(server!.url)
  await client.connect()
  try {
    const result = await client.query(
      `select c.position from "${schema}".checkpoints c join "${schema}".models m on m.table_name = c.table_name
       where m.name = $1`,
      [projection],
    )
    return BigInt((result.rows[0] as { position: string }).position)
  } finally {
    await client.end()
  }
}

const eventually = (check: () => Promise<void> | void, timeout = 10_000) =>
  vi.waitFor(check, { timeout, interval: 10 })

const suite = postgresUrl ? describe : describe.skip

suite(`read models in PostgreSQL shared by replicas${postgresUrl ? '' : ` (${withoutPostgres})`}`, () => {
  it('runs a projection on one replica only, and every replica reads the rows it committed', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(40)])
    const a = await replica(store, schema, { name: 'a' })
    const b = await replica(store, schema, { name: 'b' })
    const written = await store.appendToStream('Battery-b2', [installed('s2'), charge(70)])
    await a.model.waitFor(written.position, 10_000)
    await b.model.waitFor(written.position, 10_000)
    const expected = [...(await foldBatteryStatus(store)).values()]
    expect(await allRows(a.model)).toEqual(expected)
    expect(await allRows(b.model)).toEqual(expected)
    const owners = [a, b].filter(({ readSide }) => readSide.statuses()[0]!.eventsProcessed > 0)
    expect(owners).toHaveLength(1)
  })

  it('reads its own write on a replica that does not run the projection, waiting for the commit', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const gate = gateCommits(createPostgresReadModels({ url: server!.url, schema, poolSize: 3 }))
    const owner = await replica(store, schema, { name: 'owner', database: gate.database })
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('owner'))
    const follower = await replica(store, schema, { name: 'follower' })
    // Listening for commits before the write: it must learn of this one from the owner's notification.
    await eventually(() => expect(follower.readSide.unready?.()).toEqual([]))
    gate.hold()
    const written = await store.appendToStream('Battery-b1', [installed('s1'), charge(55)])
    await gate.untilWaiting()
    let read: BatteryStatusRow | undefined
    const reading = follower.model.waitFor(written.position, 10_000).then(async () => {
      read = await follower.model.get('b1')
    })
    // The owner's commit is held: the follower must still be waiting, not reading an old row.
    await new Promise((resolve) => setImmediate(resolve))
    expect(read).toBeUndefined()
    gate.release()
    await reading
    expect(read).toMatchObject({ batteryId: 'b1', percent: 55 })
    expect(owner.readSide.statuses()[0]!.eventsProcessed).toBe(2)
  })

  it('keeps the checkpoint a notification reported over an older one its start-up read answers with after it', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(30)])
    const gate = gateCommits(createPostgresReadModels({ url: server!.url, schema, poolSize: 3 }))
    gate.hold()
    const owner = await replica(store, schema, { name: 'owner', database: gate.database })
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('owner'))
    await gate.untilWaiting()
    // The follower's read of the checkpoints sees the owner's from before its catching-up commit, and answers
    // only once that commit's notification has reached the follower.
    const inner = createPostgresReadModels({ url: server!.url, schema, poolSize: 3 })
    let heardCaughtUp: () => void = () => {}
    const notified = new Promise<void>((resolve) => (heardCaughtUp = resolve))
    let reads = 0
    let readTaken: () => void = () => {}
    const taken = new Promise<void>((resolve) => (readTaken = resolve))
    const database: ReadModelDatabase = {
      ...inner,
      shared: {
        ...inner.shared!,
        listen: (onCommit, onState) =>
          inner.shared!.listen((checkpoint) => {
            onCommit(checkpoint)
            if (checkpoint.caughtUp) heardCaughtUp()
          }, onState),
        async checkpoints() {
          const checkpoints = await inner.shared!.checkpoints()
          if (++reads > 1) return checkpoints
          readTaken()
          await notified
          return checkpoints
        },
      },
    }
    const follower = await replica(store, schema, { name: 'follower', database })
    await taken
    gate.release()
    await eventually(() => expect(follower.readSide.isCaughtUp()).toBe(true))
    expect(follower.readSide.statuses()[0]!.state).toBe('live')
    expect(owner.readSide.statuses()[0]!.eventsProcessed).toBe(2)
  })

  it('commits a long run of events it does not handle once a second at most, and a restart after it folds every event once', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(20)])
    const inner = createPostgresReadModels({ url: server!.url, schema, poolSize: 3 })
    let commits = 0
    const counting: ReadModelDatabase = {
      ...inner,
      store: (definition, role) => {
        const store = inner.store(definition, role)
        return Object.assign(Object.create(store) as typeof store, {
          commit: (batch: Parameters<typeof store.commit>[0]) => (commits++, store.commit(batch)),
        })
      },
      close: () => inner.close(),
    }
    const first = await replica(store, schema, { name: 'first', database: counting })
    await eventually(() => expect(first.readSide.isCaughtUp()).toBe(true))
    // Twenty batches of events the projection skips, each ending at a checkpoint of the filtered read.
    const before = commits
    const position = () => first.readSide.statuses()[0]!.position
    for (let run = 0; run < 20; run++) {
      const reached = position()
      for (let n = 0; n < 32; n++) await store.appendToStream('Grid-g1', [noise(n)])
      await eventually(() => expect(position()).toBeGreaterThan(reached))
    }
    expect(commits - before).toBeLessThanOrEqual(5)
    const written = await store.appendToStream('Battery-b1', [charge(60)])
    await first.model.waitFor(written.position, 10_000)
    expect(await first.model.get('b1')).toMatchObject({ percent: 60, reports: 2 })
    await first.readSide.stop()
    // The next owner reads the skipped run again (its checkpoint may stand before it) and folds each event once.
    await store.appendToStream('Battery-b1', [charge(75)])
    const next = await replica(store, schema, { name: 'next' })
    await next.model.waitFor(await store.headPosition(), 10_000)
    expect(await allRows(next.model)).toEqual([...(await foldBatteryStatus(store)).values()])
    expect(await next.model.get('b1')).toMatchObject({ percent: 75, reports: 3 })
  })

  it('commits a batch whose handled event changes no row at once: a replica waiting on its token learns of it', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const owner = await replica(store, schema, { name: 'owner' })
    await eventually(() => expect(owner.readSide.isCaughtUp()).toBe(true))
    const written = await store.appendToStream('Battery-b1', [installed('s1')])
    await owner.model.waitFor(written.position, 10_000)
    // A charge for a battery never installed: the handler keeps no row, so the batch writes nothing.
    const unchanged = await store.appendToStream('Battery-b404', [charge(10)])
    await owner.model.waitFor(unchanged.position, 10_000)
    expect(await checkpointOf(schema, 'batteryStatus')).toBe(unchanged.position)
  })

  it('is ready after a restart without replaying the log: it resumes from the committed checkpoint', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    for (let n = 0; n < 20; n++) await store.appendToStream(`Battery-b${n}`, [installed('s1'), charge(n)])
    const first = await replica(store, schema, { name: 'first' })
    await first.model.waitFor(await store.headPosition(), 10_000)
    await first.readSide.stop()
    const next = await replica(store, schema, { name: 'next' })
    await eventually(() => expect(next.readSide.isCaughtUp()).toBe(true))
    expect(next.readSide.statuses()[0]!.eventsProcessed).toBe(0)
    expect(await allRows(next.model)).toHaveLength(20)
  })

  it('takes a projection over when its owner stops, and goes on from the checkpoint', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const a = await replica(store, schema, { name: 'a', leaseMs: 300 })
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('a'))
    const b = await replica(store, schema, { name: 'b', leaseMs: 300 })
    await store.appendToStream('Battery-b1', [installed('s1')])
    await b.model.waitFor(await store.headPosition(), 10_000)
    await a.readSide.stop()
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('b'))
    const later = await store.appendToStream('Battery-b1', [charge(90)])
    await b.model.waitFor(later.position, 10_000)
    expect(await b.model.get('b1')).toMatchObject({ percent: 90, reports: 1 })
  })

  it('refuses the commit of an owner paused past its lease once another replica took over: rows stay the new owner\u2019s fold', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const inner = createPostgresReadModels({ url: server!.url, schema, poolSize: 3, leaseMs: 300 })
    const gate = gateCommits(inner)
    // A pause of the whole replica: its commit stalls and its lease is no longer renewed.
    let paused = false
    let unpause: () => void = () => {}
    const pausedUntil = new Promise<void>((resolve) => (unpause = resolve))
    const renew = inner.shared!.renew.bind(inner.shared)
    Object.assign(inner.shared!, {
      renew: (...args: Parameters<typeof renew>) =>
        paused ? pausedUntil.then(() => renew(...args)) : renew(...args),
    })
    const old = await replica(store, schema, { name: 'old', database: gate.database })
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('old'))
    await store.appendToStream('Battery-b1', [installed('s1')])
    await old.model.waitFor(await store.headPosition(), 10_000)
    paused = true
    gate.hold()
    await store.appendToStream('Battery-b1', [charge(10)])
    await gate.untilWaiting()
    const next = await replica(store, schema, { name: 'new', leaseMs: 300 })
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('new'))
    const head = await store.appendToStream('Battery-b1', [charge(20)])
    await next.model.waitFor(head.position, 10_000)
    gate.release()
    unpause()
    await eventually(() => expect(gate.waiting).toBe(0))
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('new'))
    // The old owner's held commit (the fold up to the first charge) was refused: it would have set 10.
    expect(await next.model.get('b1')).toMatchObject({ percent: 20, reports: 2 })
    expect((await next.model.list({})).position).toBe(head.position)
  })

  it('resumes a change feed after a restart of every replica, from the position the reader saw', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const first = await replica(store, schema, { name: 'a' })
    await eventually(() => expect(first.readSide.isCaughtUp()).toBe(true))
    const signal = AbortSignal.timeout(10_000)
    const seen: RowChange<BatteryStatusRow>[] = []
    const reading = (async () => {
      for await (const change of first.model.changes({ signal })) {
        seen.push(change)
        break
      }
    })()
    await store.appendToStream('Battery-b1', [installed('s1')])
    await reading
    const resumeAfter = seen[0]!.position
    await first.readSide.stop()
    await store.appendToStream('Battery-b1', [charge(30)])
    await store.appendToStream('Battery-b2', [installed('s2')])
    const next = await replica(store, schema, { name: 'b' })
    await next.model.waitFor(await store.headPosition(), 10_000)
    const resumed: string[] = []
    for await (const change of next.model.changes({ signal, after: resumeAfter })) {
      resumed.push(`${change.kind} ${change.key}`)
      if (resumed.length === 2) break
    }
    expect(resumed).toEqual(['updated b1', 'created b2'])
  })

  it('keeps the traceparent of each change\u2019s event in the change table, for every replica\u2019s frames', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const replicas = [
      await replica(store, schema, { name: 'a' }),
      await replica(store, schema, { name: 'b' }),
    ]
    const signal = AbortSignal.timeout(10_000)
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    for (const { readSide } of replicas) await eventually(() => expect(readSide.isCaughtUp()).toBe(true))
    const firstChange = async (model: ReadModelSource<BatteryStatusRow>) => {
      for await (const change of model.changes({ signal })) return change
      return undefined
    }
    const reading = replicas.map(({ model }) => firstChange(model))
    await store.appendToStream('Battery-b1', [{ ...installed('s1'), metadata: { traceparent } }])
    // Both read it back from the table: the one that runs the projection and the one that does not.
    for (const change of await Promise.all(reading)) expect(change?.traceparent).toBe(traceparent)
  })

  it('answers CHANGES_EXPIRED for a resume older than the changes it keeps', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const small = defineProjection({
      name: 'small',
      row: z.object({ batteryId: z.string(), percent: z.number() }),
      key: 'batteryId',
      from: [Battery],
      changeRetention: 2,
      handlers: {
        BatteryInstalled: (_row, _event, { key }) => ({ batteryId: key, percent: 0 }),
        ChargeReported: (row, { data }) => row && { ...row, percent: data.percent },
      },
    })
    const a = await replica(store, schema, { name: 'a', projections: [small] })
    const model = a.readSide.sources[0]!
    const first = await store.appendToStream('Battery-b1', [installed('s1')])
    await model.waitFor(first.position, 10_000)
    for (let n = 1; n <= 4; n++) await store.appendToStream('Battery-b1', [charge(n)])
    await model.waitFor(await store.headPosition(), 10_000)
    const database = createPostgresReadModels({ url: server!.url, schema })
    running.push(database)
    await database.shared!.prune('small', 2)
    const read = async () => {
      for await (const _change of model.changes({
        after: first.position,
        signal: AbortSignal.timeout(5_000),
      }))
        break
    }
    await expect(read()).rejects.toMatchObject({ code: 'CHANGES_EXPIRED' })
  })

  it('holds the event whose row PostgreSQL refuses as a dead letter with the database\u2019s reason, and goes on', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    const named = defineProjection({
      name: 'named',
      row: z.object({ batteryId: z.string(), site: z.string() }),
      key: 'batteryId',
      from: [Battery],
      handlers: { BatteryInstalled: (_row, { data }, { key }) => ({ batteryId: key, site: data.siteId }) },
    })
    const a = await replica(store, schema, { name: 'a', projections: [named] })
    await store.appendToStream('Battery-b1', [installed('s\u0000bad')])
    const fine = await store.appendToStream('Battery-b2', [installed('s2')])
    const model = a.readSide.sources[0]!
    await model.waitFor(fine.position, 10_000, { key: 'b2' })
    expect(await model.get('b2')).toEqual({ batteryId: 'b2', site: 's2' })
    await eventually(() =>
      expect(a.readSide.projection('named').deadLetters()).toMatchObject([
        { key: 'b1', error: expect.stringMatching(/PostgreSQL refused the row/) as unknown },
      ]),
    )
    expect(await model.get('b1')).toBeUndefined()
  })

  it('rebuilds a new version in a shadow table and switches the view to it in one step', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(10)])
    const a = await replica(store, schema, { name: 'a' })
    await a.model.waitFor(await store.headPosition(), 10_000)
    await eventually(async () => expect(await ownerOf(schema, 'batteryStatus')).toBe('a'))
    await a.readSide.projection('batteryStatus').rebuild(batteryStatus({ version: 2 }))
    expect(a.model.status().version).toBe(2)
    expect(await a.model.get('b1')).toMatchObject({ percent: 10 })
    const tables = await tablesOf(schema)
    expect(tables.filter((name) => name.startsWith('batteryStatus_'))).toEqual([
      expect.stringMatching(/_v2_/),
    ])
  })

  it('rebuilds a projection whose version changed on the next start, by itself', async () => {
    const store = createInMemoryEventStore()
    const schema = newSchema()
    await store.appendToStream('Battery-b1', [installed('s1'), charge(10)])
    const first = await replica(store, schema, { name: 'a' })
    await first.model.waitFor(await store.headPosition(), 10_000)
    await first.readSide.stop()
    const next = await replica(store, schema, { name: 'b', projections: [batteryStatus({ version: 2 })] })
    await eventually(async () =>
      expect((await tablesOf(schema)).some((name) => name.includes('_v2_'))).toBe(true),
    )
    await eventually(async () =>
      expect((await tablesOf(schema)).filter((name) => name.startsWith('batteryStatus_'))).toEqual([
        expect.stringMatching(/_v2_/),
      ]),
    )
    expect(await next.model.get('b1')).toMatchObject({ percent: 10 })
  })
})

async function tablesOf(schema: string): Promise<string[]> {
  const client = new pg.Client(server!.url)
  await client.connect()
  try {
    const result = await client.query(`select tablename from pg_tables where schemaname = $1 order by 1`, [
      schema,
    ])
    return (result.rows as { tablename: string }[]).map((row) => row.tablename)
  } finally {
    await client.end()
  }
}
