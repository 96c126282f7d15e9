import { randomUUID } from 'node:crypto'
import type { Bench, BenchResult } from './run.ts'
import { startBenchServers } from './graphql-bench-fixture.ts'
import { alternate } from './paired-rounds.ts'
import { measureBareBroadcast, measureGatewayLoad, type GatewayLoad } from './graphql-ws-load.ts'
import { forkLoadGenerator, type LoadGenerator } from './load-generator.ts'

/** Pairs of a gateway run and a bare run, alternating which goes first; the ratio is their median. */
const ROUNDS = 6

const CLIENTS = 1000
const CHANGES = 20

const subscription = 'subscription { tankLevelChanged(tankId: "hot") { kind row { litres } position } }'

/** 1,000 WebSocket clients subscribed to one row, against a bare ws server broadcasting the same frames. */
const bench: Bench = {
  name: 'graphql-subscriptions',
  description: `Messages per second to ${CLIENTS} subscribed WebSocket clients through the gateway vs a bare ws broadcast of the same payloads`,
  method: `${CLIENTS} graphql-transport-ws clients subscribed to one row of a read model receive ${CHANGES} changes through the gateway; the baseline is a bare ws server sending the same frames (recorded from a gateway run) to ${CLIENTS} bare clients. The clients run in a load-generator process of their own on both sides; a side's time runs from the first change (or send) to the last frame received. ${ROUNDS} alternating pairs of runs after a warm-up run per side; the ratio is the median of the pairs' ratios. Target 0.5.`,
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
  await measureBareBroadcast(generator, frames, CLIENTS)
  const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, {
    figure: async () => (await measureGateway(generator)).perSecond,
    baseline: () => measureBareBroadcast(generator, frames, CLIENTS),
  })
  return {
    figure: {
      label: `GraphQL subscription frames to ${CLIENTS} clients`,
      value: Math.round(figure),
      unit: 'msg/s',
    },
    baseline: { label: 'bare ws broadcast of the same frames', value: Math.round(baseline), unit: 'msg/s' },
    ratio,
    target: 0.5,
    notes: `${CHANGES} changes to one row, each delivered to every client; clients in a load-generator process of their own on both sides, on loopback; ratio: median of ${ROUNDS} alternating pairs of runs (${rounds}) after a warm-up run per side; rates: each side's median`,
  }
}

async function measureGateway(generator: LoadGenerator): Promise<GatewayLoad> {
  const servers = await startBenchServers()
  const append = () =>
    servers.store.appendToStream('Tank-hot', [
      { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
    ])
  try {
    await append()
    return await measureGatewayLoad(generator, {
      url: `${servers.gatewayUrl.replace('http', 'ws')}/graphql`,
      groups: [{ query: subscription, clients: CLIENTS }],
      publish: async () => {
        for (let n = 0; n < CHANGES; n++) await append()
      },
      changes: CHANGES,
    })
  } finally {
    await servers.close()
  }
}

export default bench
