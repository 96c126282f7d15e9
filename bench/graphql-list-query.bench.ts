import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { Bench } from './run.ts'
import { listen, startBenchServers } from './graphql-bench-fixture.ts'
import { forkLoadGenerator, type HttpRound, type LoadGenerator } from './load-generator.ts'
import { alternate, median } from './paired-rounds.ts'

const CONCURRENCY = 16
const ROUND_MS = 250
const ROUNDS = 40
const ROWS = 500
const PAGE = 50

const query = `query Page($first: Int) { tankLevelList(first: $first, where: { site: { eq: "bench" } }) {
  nodes { tankId site litres status } pageInfo { endCursor hasNextPage } position
} }`

/** A page of a read model through the gateway against a plain fastify route returning the same JSON. */
const bench: Bench = {
  name: 'graphql-list-query',
  description:
    'List queries per second through the GraphQL gateway (graphql-jit) vs a plain fastify route over the same read model',
  method: `A page of ${PAGE} rows (of ${ROWS}, filtered by site) through the gateway as a GET (mercurius runs it with graphql-jit after its first run), against a plain fastify GET route that reads the same page from the same read model and answers the same JSON; both servers in this process, ${CONCURRENCY} HTTP clients in a load-generator process of their own, the same headers on both sides. ${ROUNDS} alternating rounds of ${ROUND_MS} ms after a warm-up round per side; the ratio is the median of the rounds' paired ratios, and the servers' CPU per request is reported beside it. Target 0.9.`,
  async run() {
    const servers = await startBenchServers()
    let last = 0n
    for (let n = 0; n < ROWS; n++) {
      const event = { id: randomUUID(), type: 'TankFilled', data: { site: 'bench', litres: n + 1 } }
      last = (await servers.store.appendToStream(`Tank-row${n}`, [event])).position
    }
    const source = servers.gateway.annals.readSide?.sources[0]
    if (!source) throw new Error('The tank projection is missing')
    await source.waitFor(last, 10_000)
    servers.plain.get('/tanks', async () => {
      const page = await source.list({ first: PAGE, where: { site: { eq: 'bench' } } })
      const nodes = page.rows.map((row) => ({
        tankId: row['tankId'],
        site: row['site'],
        litres: row['litres'],
        status: row['status'],
      }))
      return {
        data: {
          tankLevelList: {
            nodes,
            pageInfo: { endCursor: page.endCursor ?? null, hasNextPage: page.hasNextPage },
            position: String(page.position),
          },
        },
      }
    })
    const plainUrl = await listen(servers.plain)
    // Both sides are GETs, so the ratio is what the GraphQL layer costs, not a POST body against no body.
    const search = new URLSearchParams({ query, variables: JSON.stringify({ first: PAGE }) })
    // The same headers on both sides (the gateway's CSRF check needs one), so the client does the same work
    // for each request but the URL; the plain route ignores it.
    const headers = { 'x-annals-csrf': '1' }
    const round = (url: string): HttpRound => ({
      url,
      headers,
      concurrency: CONCURRENCY,
      durationMs: ROUND_MS,
    })
    const gatewayRound = round(`${servers.gatewayUrl}/graphql?${search.toString()}`)
    const plainRound = round(`${plainUrl}/tanks`)
    const generator = await forkLoadGenerator()
    try {
      // Both sides must answer the same JSON, or the ratio compares different work.
      const [viaGateway, viaPlain] = await Promise.all(
        [gatewayRound, plainRound].map(async ({ url }) => (await fetch(url, { headers })).json()),
      )
      if (!isDeepStrictEqual(viaGateway, viaPlain))
        throw new Error('The gateway and the plain route disagree')
      // One unmeasured round per side first, so that neither side's first round pays V8's warm-up.
      await generator.http(gatewayRound)
      await generator.http(plainRound)
      const cpu = { figure: [] as number[], baseline: [] as number[] }
      const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, {
        figure: () => withCpu(generator, cpu.figure, gatewayRound),
        baseline: () => withCpu(generator, cpu.baseline, plainRound),
      })
      const cpuFigure = median(cpu.figure)
      const cpuBaseline = median(cpu.baseline)
      return {
        figure: { label: `GraphQL list query (${PAGE} rows)`, value: Math.round(figure), unit: 'req/s' },
        baseline: {
          label: 'plain fastify route, same rows and JSON',
          value: Math.round(baseline),
          unit: 'req/s',
        },
        ratio,
        target: 0.9,
        notes: `GET with the same headers on both sides; ${ROWS} rows, filtered by site, ${CONCURRENCY} concurrent clients in a load-generator process of their own; ratio: median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms after a warm-up round per side (rates: each side's median); ratio by round: ${rounds}; server CPU per request (median): ${cpuFigure.toFixed(0)} µs vs ${cpuBaseline.toFixed(0)} µs, ratio ${(cpuBaseline / cpuFigure).toFixed(2)}`,
      }
    } finally {
      await generator.close()
      await servers.close()
    }
  },
}

/**
 * One round's throughput, and the servers' CPU per request pushed on `samples`: on a shared machine the CPU a
 * request costs the server (only one side is loaded at a time) moves much less than requests per second.
 */
async function withCpu(generator: LoadGenerator, samples: number[], round: HttpRound): Promise<number> {
  const before = process.cpuUsage()
  const { perSecond, requests } = await generator.http(round)
  const used = process.cpuUsage(before)
  samples.push((used.user + used.system) / Math.max(requests, 1))
  return perSecond
}

export default bench
