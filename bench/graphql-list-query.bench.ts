import { randomUUID } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import type { Bench } from './run.ts'
import { alternate, listen, startBenchServers, throughput } from './graphql-bench-fixture.ts'

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
    const read = async (response: Promise<Response>) => {
      const reply = await response
      if (reply.status !== 200) throw new Error(`answered ${reply.status}`)
      await reply.arrayBuffer()
    }
    // Both sides are GETs, so the ratio is what the GraphQL layer costs, not a POST body against no body.
    const search = new URLSearchParams({ query, variables: JSON.stringify({ first: PAGE }) })
    const gatewayRequest = `${servers.gatewayUrl}/graphql?${search.toString()}`
    const plainRequest = `${plainUrl}/tanks`
    // The same headers on both sides (the gateway's CSRF check needs one), so the client does the same work
    // for each request but the URL; the plain route ignores it.
    const get = (url: string) => fetch(url, { headers: { 'x-annals-csrf': '1' } })
    try {
      // Both sides must answer the same JSON, or the ratio compares different work.
      const [viaGateway, viaPlain] = await Promise.all([
        get(gatewayRequest).then((reply) => reply.json()),
        get(plainRequest).then((reply) => reply.json()),
      ])
      if (!isDeepStrictEqual(viaGateway, viaPlain))
        throw new Error('The gateway and the plain route disagree')
      // One unmeasured round per side first, so that neither side's first round pays V8's warm-up.
      await throughput(CONCURRENCY, ROUND_MS, () => read(get(gatewayRequest)))
      await throughput(CONCURRENCY, ROUND_MS, () => read(get(plainRequest)))
      const cpu = { figure: [] as number[], baseline: [] as number[] }
      const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, {
        figure: () => withCpu(cpu.figure, () => read(get(gatewayRequest))),
        baseline: () => withCpu(cpu.baseline, () => read(get(plainRequest))),
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
        notes: `GET with the same headers on both sides; ${ROWS} rows, filtered by site, ${CONCURRENCY} concurrent clients, ratio: median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms after a warm-up round per side (rates: each side's median); ${servers.gateway.annals.gateway.compiledGets()} GETs answered from the compiled document; ratio by round: ${rounds}; CPU per request (clients and server, median): ${cpuFigure.toFixed(0)} µs vs ${cpuBaseline.toFixed(0)} µs, ratio ${(cpuBaseline / cpuFigure).toFixed(2)}`,
      }
    } finally {
      await servers.close()
    }
  },
}

/**
 * One round's throughput, and the process CPU per request pushed on `samples`: on a shared machine the CPU a
 * request costs (clients and server, both in this process) moves much less than requests per second.
 */
async function withCpu(samples: number[], request: () => Promise<void>): Promise<number> {
  let requests = 0
  const before = process.cpuUsage()
  const rate = await throughput(CONCURRENCY, ROUND_MS, async () => {
    await request()
    requests++
  })
  const used = process.cpuUsage(before)
  samples.push((used.user + used.system) / Math.max(requests, 1))
  return rate
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? 0
}

export default bench
