import { randomUUID } from 'node:crypto'
import type { Bench, BenchResult } from './run.ts'
import { startBenchServers } from './graphql-bench-fixture.ts'
import { alternate } from './paired-rounds.ts'
import { measureBareBroadcast, measureGatewayLoad, type GatewayLoad } from './graphql-ws-load.ts'
import { forkLoadGenerator, type LoadGenerator } from './load-generator.ts'

/** Pairs of a gateway run and a bare run, alternating which goes first; the ratio is their median. */
const ROUNDS = 6

const TANKS = 10
const CLIENTS_PER_TANK = 50
const CLIENTS = TANKS * CLIENTS_PER_TANK
const EVENTS_PER_TANK = 20

const feedQuery = (tank: number) =>
  `subscription { tankEvents(id: "feed-${tank}") { ... on TankFilled { revision position data { litres } } } }`

/** Clients on aggregate event feeds (one shared store subscription) vs a bare ws broadcast of the same frames. */
const bench: Bench = {
  name: 'graphql-aggregate-feed',
  description: `Event frames per second to ${CLIENTS} clients on ${TANKS} aggregate feeds vs a bare ws broadcast of the same frames`,
  method: `${CLIENTS} clients, ${CLIENTS_PER_TANK} on each of ${TANKS} aggregate event feeds, receive ${EVENTS_PER_TANK} events per aggregate through the gateway (one shared store subscription); the baseline is a bare ws server sending the same frames to the same groups of bare clients. The clients run in a load-generator process of their own on both sides. ${ROUNDS} alternating pairs of runs after a warm-up run per side; the ratio is the median of the pairs' ratios. Target 0.5.`,
  async run() {
    const generator = await forkLoadGenerator()
    try {
      return await measure(generator)
    } finally {
      await generator.close()
    }
  },
}

async function measure(generator: LoadGenerator): Promise<BenchResult> {
  // A first gateway run records the frames the bare server sends; one run of each side warms it up.
  const { frames } = await measureGateway(generator)
  await measureBareBroadcast(generator, frames, CLIENTS_PER_TANK)
  const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, {
    figure: async () => (await measureGateway(generator)).perSecond,
    baseline: () => measureBareBroadcast(generator, frames, CLIENTS_PER_TANK),
  })
  return {
    figure: {
      label: `aggregate event frames to ${CLIENTS} clients (${CLIENTS_PER_TANK} per aggregate)`,
      value: Math.round(figure),
      unit: 'msg/s',
    },
    baseline: { label: 'bare ws send of the same frames', value: Math.round(baseline), unit: 'msg/s' },
    ratio,
    target: 0.5,
    notes: `${EVENTS_PER_TANK} events appended to each of ${TANKS} tanks, one at a time; in-memory store; clients in a load-generator process of their own on both sides, on loopback; ratio: median of ${ROUNDS} alternating pairs of runs (${rounds}) after a warm-up run per side; rates: each side's median`,
  }
}

async function measureGateway(generator: LoadGenerator): Promise<GatewayLoad> {
  const servers = await startBenchServers()
  const tanks = Array.from({ length: TANKS }, (_, tank) => tank)
  const append = (tank: number) =>
    servers.store.appendToStream(`Tank-feed-${tank}`, [
      { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
    ])
  try {
    for (const tank of tanks) await append(tank)
    return await measureGatewayLoad(generator, {
      url: `${servers.gatewayUrl.replace('http', 'ws')}/graphql`,
      groups: tanks.map((tank) => ({ query: feedQuery(tank), clients: CLIENTS_PER_TANK })),
      publish: async () => {
        for (let n = 0; n < EVENTS_PER_TANK; n++) for (const tank of tanks) await append(tank)
      },
      changes: EVENTS_PER_TANK,
    })
  } finally {
    await servers.close()
  }
}

export default bench
