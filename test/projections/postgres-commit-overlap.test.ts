import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate } from '../../framework/aggregate/define-aggregate.ts'
import { StoreUnavailableError } from '../../framework/index.ts'
import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { defineProjection } from '../../projections/define-projection.ts'
import { createProjectionEngine } from '../../projections/projection-engine.ts'
import { createProjectionRunner } from '../../projections/projection-runner.ts'
import { createPostgresReadModels } from '../../projections/read-models/postgres/postgres-read-models.ts'
import type { ReadModelStore } from '../../projections/read-models/read-model-store.ts'
import { freshDatabase, postgresUrl, withoutPostgres } from '../postgres/postgres.fixture.ts'

const Meter = defineAggregate({
  name: 'Meter',
  state: z.object({}),
  initialState: {},
  events: { Ticked: z.object({ by: z.number() }) },
  commands: {},
  evolve: { Ticked: (state) => state },
})

const Total = z.object({ id: z.string(), total: z.number(), ticks: z.number() })
type Total = z.infer<typeof Total>

/** Each meter's total: rows that batch after batch updates, so a batch folded on a stale row loses ticks. */
const totals = defineProjection({
  name: 'totals',
  row: Total,
  key: 'id',
  from: [Meter],
  handlers: {
    Ticked: (row, { data }, { key }) => ({
      id: key,
      total: (row?.total ?? 0) + data.by,
      ticks: (row?.ticks ?? 0) + 1,
    }),
  },
})

/** Appends of 10 go to the meters in turn: a batch of 25 shares a meter with the one before it and loads new ones. */
const METERS = 40
const EVENTS = 1_200

async function seed(store: EventStore) {
  for (let n = 0; n < EVENTS; n += 10) {
    const events = Array.from({ length: 10 }, (_, i) => ({
      id: crypto.randomUUID(),
      type: 'Ticked',
      data: { by: n + i },
    }))
    await store.appendToStream(`Meter-m${(n / 10) % METERS}`, events)
  }
}

/** The fold of every event, computed from the log itself. */
async function expectedTotals(store: EventStore): Promise<Map<string, Total>> {
  const expected = new Map<string, Total>()
  for (let meter = 0; meter < METERS; meter++) {
    const id = `m${meter}`
    const row = { id, total: 0, ticks: 0 }
    for await (const event of store.readStream(`Meter-${id}`)) {
      row.total += z.object({ by: z.number() }).parse(event.data).by
      row.ticks++
    }
    expected.set(id, row)
  }
  return expected
}

/**
 * A real PostgreSQL store, watched: it counts the loads that ran while a commit was still on its way, and
 * fails the commit the test names (the one fault injected by the test; the database itself stays up).
 */
function watched(store: ReadModelStore<Total>, failCommit?: number) {
  const seen = { overlapping: 0, commits: 0, failed: 0 }
  let committing = 0
  const wrapper: ReadModelStore<Total> = {
    open: () => store.open(),
    get: (key) => store.get(key),
    list: (query) => store.list(query),
    clear: () => store.clear(),
    load(keys) {
      if (committing > 0) seen.overlapping++
      return store.load(keys)
    },
    async commit(batch) {
      seen.commits++
      if (seen.commits === failCommit) {
        seen.failed++
        // Failed after a pause, so that the next batch is folded meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 20))
        throw new StoreUnavailableError('the commit the test fails')
      }
      committing++
      try {
        await store.commit(batch)
      } finally {
        committing--
      }
    },
  }
  return { wrapper, seen }
}

const running: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of running.splice(0).reverse()) await stop()
})

async function catchUpInto(failCommit?: number) {
  const database = await freshDatabase()
  running.push(() => database.drop())
  const models = createPostgresReadModels({ url: database.url })
  running.push(() => models.close())
  expect(await models.shared!.acquire('totals', 'test')).toBeDefined()
  const { wrapper, seen } = watched(models.store(totals), failCommit)
  const engine = createProjectionEngine(totals, wrapper)
  const events = createInMemoryEventStore()
  await seed(events)
  const runner = createProjectionRunner({
    store: events,
    name: 'totals',
    engines: [engine],
    // Small batches: the subscription is far ahead, so each batch but the last has another queued behind it.
    maxBatch: 25,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
  })
  running.push(() => runner.stop())
  const head = await events.headPosition()
  runner.start()
  await until(() => engine.position >= head && engine.caughtUp)
  const rows = new Map<string, Total>()
  for (let meter = 0; meter < METERS; meter++) {
    const row = await wrapper.get(`m${meter}`)
    if (row) rows.set(row.id, row)
  }
  return { rows, expected: await expectedTotals(events), seen }
}

async function until(done: () => boolean) {
  const deadline = Date.now() + 30_000
  while (!done()) {
    if (Date.now() > deadline) throw new Error('the projection did not catch up within 30 s')
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

const suite = postgresUrl ? describe : describe.skip

suite(
  `a catch-up that folds a batch while the one before it commits${postgresUrl ? '' : ` (${withoutPostgres})`}`,
  () => {
    it('folds each batch on the rows the commit still running writes, so the rows equal the fold of the log', async () => {
      const { rows, expected, seen } = await catchUpInto()
      expect(seen.overlapping).toBeGreaterThan(0)
      expect(rows).toEqual(expected)
    })

    it('loses neither the batch whose commit failed nor the one folded on it: it resumes from the checkpoint', async () => {
      const { rows, expected, seen } = await catchUpInto(6)
      expect(seen.failed).toBe(1)
      expect(seen.overlapping).toBeGreaterThan(0)
      expect(rows).toEqual(expected)
    })
  },
)
