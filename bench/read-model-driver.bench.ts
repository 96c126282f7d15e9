import pg from 'pg'
import postgresJs from 'postgres'
import { startThrowawayPostgres } from '../scripts/throwaway-postgres.ts'
import type { Bench, BenchResult } from './run.ts'

const BATCH = 500
const BATCHES = 40
const PAGES = 2_000
const CONNECTIONS = 4
const ROUNDS = 4

/** The two kinds of work a read model does: batches of rows in one JSON document, and indexed pages. */
const UPSERT = `insert into rows ("_key", "_row", site, kw)
  select e->>0, e->1, e->>2, (e->>3)::float8 from jsonb_array_elements($1::text::jsonb) e
  on conflict ("_key") do update set "_row" = excluded."_row", site = excluded.site, kw = excluded.kw`
const PAGE = `select "_row" from rows where site = $1 order by kw desc, "_key" limit 51`

function batchOf(round: number, batch: number): string {
  const items: string[] = []
  for (let n = 0; n < BATCH; n++) {
    const key = `r${batch * BATCH + n}`
    const row = { key, site: `s${n % 20}`, kw: (n * 7 + round) % 100, note: 'a reading' }
    items.push(JSON.stringify([key, row, row.site, row.kw]))
  }
  return `[${items.join(',')}]`
}

interface Driver {
  upsert(json: string): Promise<unknown>
  page(site: string): Promise<unknown>
  close(): Promise<void>
}

async function timed(
  driver: Driver,
  round: number,
): Promise<{ rowsPerSecond: number; pagesPerSecond: number }> {
  let started = performance.now()
  for (let batch = 0; batch < BATCHES; batch++) await driver.upsert(batchOf(round, batch))
  const rowsPerSecond = (BATCH * BATCHES) / ((performance.now() - started) / 1000)
  started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < PAGES) await driver.page(`s${next++ % 20}`)
    }),
  )
  return { rowsPerSecond, pagesPerSecond: PAGES / ((performance.now() - started) / 1000) }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** node-postgres (`pg`, the driver the read models use) against `postgres` (postgres.js) on the same work. */
const bench: Bench = {
  name: 'read-model-driver',
  description:
    'pg vs postgres.js on the read models\u2019 work: batches of 500 rows as one JSON document, and 50-row indexed pages',
  async run(): Promise<BenchResult[]> {
    const server = await startThrowawayPostgres({ durable: true })
    if (!server) throw new Error('This benchmark needs the PostgreSQL server binaries (pg_config --bindir)')
    const setup = new pg.Client(server.url)
    await setup.connect()
    await setup.query(
      `create table rows ("_key" text collate "C" primary key, "_row" jsonb not null, site text collate "C", kw float8)`,
    )
    await setup.query(`create index on rows (site, "_key")`)
    await setup.query(`create index on rows (kw, "_key")`)
    await setup.end()
    const pool = new pg.Pool({ connectionString: server.url, max: CONNECTIONS })
    const viaPg: Driver = {
      upsert: (json) => pool.query(UPSERT, [json]),
      page: (site) => pool.query(PAGE, [site]),
      close: () => pool.end(),
    }
    const sql = postgresJs(server.url, { max: CONNECTIONS, onnotice: () => {} })
    const viaPostgresJs: Driver = {
      upsert: (json) => sql.unsafe(UPSERT, [json], { prepare: true }),
      page: (site) => sql.unsafe(PAGE, [site], { prepare: true }),
      close: () => sql.end(),
    }
    try {
      const a: { rowsPerSecond: number; pagesPerSecond: number }[] = []
      const b: { rowsPerSecond: number; pagesPerSecond: number }[] = []
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2 === 0) {
          a.push(await timed(viaPg, round))
          b.push(await timed(viaPostgresJs, round))
        } else {
          b.push(await timed(viaPostgresJs, round))
          a.push(await timed(viaPg, round))
        }
      }
      const ratios = (of: 'rowsPerSecond' | 'pagesPerSecond') => a.map((x, i) => x[of] / b[i]![of])
      const row = (of: 'rowsPerSecond' | 'pagesPerSecond', what: string, unit: string): BenchResult => ({
        figure: { label: `pg: ${what}`, value: Math.round(median(a.map((x) => x[of]))), unit },
        baseline: { label: `postgres.js: ${what}`, value: Math.round(median(b.map((x) => x[of]))), unit },
        ratio: median(ratios(of)),
        notes: `${ROUNDS} alternating rounds, median of pair ratios (${ratios(of)
          .map((r) => r.toFixed(2))
          .join(' ')}); ${CONNECTIONS} connections, prepared statements on both; PostgreSQL 15, fsync on`,
      })
      return [
        row('rowsPerSecond', `upserts, ${BATCH} rows a statement`, 'rows/s'),
        row('pagesPerSecond', '50-row pages by an indexed column', 'pages/s'),
      ]
    } finally {
      await viaPg.close()
      await viaPostgresJs.close()
      await server.stop()
    }
  },
}

export default bench
