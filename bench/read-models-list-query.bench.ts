import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { isDeepStrictEqual } from 'node:util'
import Fastify from 'fastify'
import pg from 'pg'
import { createInMemoryEventStore } from '../framework/event-store/in-memory-event-store.ts'
import { createServer } from '../framework/server/create-server.ts'
import { createReadSide } from '../projections/create-read-side.ts'
import { listSql, quote } from '../projections/read-models/postgres/list-sql.ts'
import { createPostgresReadModels } from '../projections/read-models/postgres/postgres-read-models.ts'
import { rowTable } from '../projections/read-models/postgres/row-table.ts'
import { startThrowawayPostgres } from '../scripts/throwaway-postgres.ts'
import { Tank, TankLevel } from '../test/e2e/fixtures/tank.ts'
import { listen } from './graphql-bench-fixture.ts'
import type { Bench, BenchResult } from './run.ts'

const CONCURRENCY = 16
const ROUND_MS = 500
const ROUNDS = 12
const ROWS = 500
const PAGE = 50

const query = `query Page($first: Int) { tankLevelList(first: $first, where: { site: { eq: "bench" } }) {
  nodes { tankId site litres status } pageInfo { endCursor hasNextPage } position
} }`

/** A load generator in its own process; `run` loads a URL for a round and resolves with requests/s. */
function loadGenerator() {
  const entry = fileURLToPath(new URL('./http-load-child.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', entry], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  const lines: AsyncIterator<string> = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  return {
    async run(url: string): Promise<number> {
      const headers = { 'x-annals-csrf': '1' }
      child.stdin.write(`${JSON.stringify({ url, ms: ROUND_MS, concurrency: CONCURRENCY, headers })}\n`)
      const line = await lines.next()
      const answer = JSON.parse(String(line.value)) as { rate: number; failed: number }
      if (answer.failed > 0) throw new Error(`${url} failed ${answer.failed} requests`)
      return answer.rate
    },
    stop: () => child.kill(),
  }
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * A page of a PostgreSQL read model through the gateway against a plain fastify route that runs the same SQL
 * through the same pool and answers the same JSON.
 */
const bench: Bench = {
  name: 'read-models-list-query',
  description:
    'List queries per second from a PostgreSQL read model through the gateway vs a plain fastify route running the same SQL on the same pool',
  async run(): Promise<BenchResult[]> {
    const postgres = await startThrowawayPostgres()
    if (!postgres) throw new Error('This benchmark needs the PostgreSQL server binaries (pg_config --bindir)')
    const pool = new pg.Pool({ connectionString: postgres.url, max: 8 })
    const store = createInMemoryEventStore()
    const gateway = await createServer({
      aggregates: [Tank],
      readSide: createReadSide({ projections: [TankLevel], database: createPostgresReadModels({ pool }) }),
      store,
      logger: false,
      env: { NODE_ENV: 'production' },
      // Production as deployed, but anonymous on loopback and with /metrics beside the gateway.
      auth: 'none',
      metrics: 'main',
      limits: { rateLimit: false, maxPageSize: 1000 },
    })
    const plain = Fastify({ logger: false })
    const table = rowTable(TankLevel.schema, TankLevel.key)
    const sql = listSql(
      `${quote('annals')}.${quote('tankLevel')}`,
      table,
      { first: PAGE, where: { site: { eq: 'bench' } } },
      {
        defaultSize: 100,
        maxSize: 1000,
      },
    )
    const source = gateway.annals.readSide!.sources[0]!
    plain.get('/tanks', async () => {
      const result = await pool.query(sql.text, sql.values)
      const rows = (result.rows as { _row: Record<string, unknown> }[])
        .slice(0, sql.size)
        .map((row) => row._row)
      const nodes = rows.map((row) => ({
        tankId: row['tankId'],
        site: row['site'],
        litres: row['litres'],
        status: row['status'],
      }))
      const last = rows[rows.length - 1]
      return {
        data: {
          tankLevelList: {
            nodes,
            pageInfo: {
              endCursor: last ? Buffer.from(JSON.stringify([last['tankId']])).toString('base64url') : null,
              hasNextPage: result.rows.length > sql.size,
            },
            position: String(source.status().position),
          },
        },
      }
    })
    const load = loadGenerator()
    try {
      const urls = {
        gateway: await listen(gateway),
        plain: await listen(plain),
      }
      let last = 0n
      for (let n = 0; n < ROWS; n++) {
        const event = { id: randomUUID(), type: 'TankFilled', data: { site: 'bench', litres: n + 1 } }
        last = (await store.appendToStream(`Tank-row${n}`, [event])).position
      }
      await source.waitFor(last, 30_000)
      const search = new URLSearchParams({ query, variables: JSON.stringify({ first: PAGE }) })
      const request = {
        gateway: `${urls.gateway}/graphql?${search.toString()}`,
        plain: `${urls.plain}/tanks`,
      }
      const get = (url: string) =>
        fetch(url, { headers: { 'x-annals-csrf': '1' } }).then((reply) => reply.json())
      const answers = await Promise.all([get(request.gateway), get(request.plain)])
      if (!isDeepStrictEqual(answers[0], answers[1])) {
        throw new Error(`The gateway and the plain route disagree: ${JSON.stringify(answers)}`)
      }
      for (const url of Object.values(request)) await load.run(url)
      const rates = { gateway: [] as number[], plain: [] as number[] }
      const orders: (keyof typeof rates)[][] = [
        ['gateway', 'plain'],
        ['plain', 'gateway'],
      ]
      for (let round = 0; round < ROUNDS; round++) {
        for (const side of orders[round % orders.length]!) rates[side].push(await load.run(request[side]))
      }
      const ratios = rates.gateway.map((rate, round) => rate / rates.plain[round]!)
      const result: BenchResult = {
        figure: {
          label: `GraphQL list query from PostgreSQL (${PAGE} rows)`,
          value: Math.round(median(rates.gateway)),
          unit: 'req/s',
        },
        baseline: {
          label: 'plain fastify route, same SQL, same pool, same JSON',
          value: Math.round(median(rates.plain)),
          unit: 'req/s',
        },
        ratio: median(ratios),
        target: 0.85,
        notes: `GETs from a load generator in its own process, ${CONCURRENCY} concurrent; ${ROWS} rows filtered by site (an indexed column); ${ROUNDS} rounds of ${ROUND_MS} ms, alternating which side goes first; ratio: median of the rounds' ratios (${ratios.map((r) => r.toFixed(2)).join(' ')})`,
      }
      return [result]
    } finally {
      load.stop()
      await Promise.all([gateway.close(), plain.close()])
      await pool.end()
      await postgres.stop()
    }
  },
}

export default bench
