import { createCommandBus } from '../framework/command/create-command-bus.ts'
import { Tank } from '../test/e2e/fixtures/tank.ts'
import type { Bench } from './run.ts'
import { listen, startBenchServers } from './graphql-bench-fixture.ts'
import { forkLoadGenerator } from './load-generator.ts'
import { alternate } from './paired-rounds.ts'

const CONCURRENCY = 16
const ROUND_MS = 1500
const ROUNDS = 6

const mutation = `mutation Fill($id: ID!, $litres: Int!) {
  fill(id: $id, input: { site: "bench", litres: $litres }) { aggregateId revision token events { __typename } }
}`

/** The fill mutation through the whole gateway against a plain fastify route running the same command. */
const bench: Bench = {
  name: 'graphql-mutation',
  description:
    'Mutations per second through the GraphQL gateway (graphql-jit) vs a plain fastify route running the same command',
  method: `The fill mutation through the gateway (POST, graphql-jit) against a plain fastify POST route running the same command on the same command bus and in-memory store, answering the same fields; ${CONCURRENCY} HTTP clients, one aggregate each, in a load-generator process of their own. ${ROUNDS} alternating rounds of ${ROUND_MS} ms after a warm-up round per side; the ratio is the median of the rounds' paired ratios. Target 0.8.`,
  async run() {
    const servers = await startBenchServers()
    const bus = createCommandBus({ store: servers.store, aggregates: [Tank] })
    servers.plain.post('/fill', async (request) => {
      const { id, litres } = request.body as { id: string; litres: number }
      const result = await bus.execute({
        aggregate: 'Tank',
        command: 'fill',
        aggregateId: id,
        input: { site: 'bench', litres },
      })
      return {
        aggregateId: result.aggregateId,
        revision: String(result.revision),
        token: String(result.position),
        events: result.events.map((event) => ({ __typename: event.type })),
      }
    })
    const plainUrl = await listen(servers.plain)
    const post = (url: string, body: unknown) => ({
      url,
      method: 'POST' as const,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      concurrency: CONCURRENCY,
      durationMs: ROUND_MS,
    })
    const gatewayRound = post(`${servers.gatewayUrl}/graphql`, {
      query: mutation,
      variables: { id: 'g$WORKER', litres: 1 },
    })
    const plainRound = post(`${plainUrl}/fill`, { id: 'p$WORKER', litres: 1 })
    const generator = await forkLoadGenerator()
    const sides = {
      figure: async () => (await generator.http(gatewayRound)).perSecond,
      baseline: async () => (await generator.http(plainRound)).perSecond,
    }
    try {
      // One unmeasured round per side first: the first measured round read 0.53-0.58 cold, the rest 0.7-1.2.
      await sides.figure()
      await sides.baseline()
      const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, sides)
      return {
        figure: { label: 'GraphQL mutations', value: Math.round(figure), unit: 'req/s' },
        baseline: { label: 'plain fastify route, same command', value: Math.round(baseline), unit: 'req/s' },
        ratio,
        target: 0.8,
        notes: `${CONCURRENCY} concurrent HTTP clients in a load-generator process of their own, one aggregate each, in-memory store, ratio: median of ${ROUNDS} alternating rounds of ${ROUND_MS} ms (${rounds}) after a warm-up round per side; rates: each side's median`,
      }
    } finally {
      await generator.close()
      await servers.close()
    }
  },
}

export default bench
