import { randomUUID } from 'node:crypto'
import type { Bench } from './run.ts'
import { alternate, startBenchServers } from './graphql-bench-fixture.ts'
import { measureBareBroadcast, measureGatewayLoad, type GatewayLoad } from './graphql-ws-load.ts'

/** Pairs of a gateway run and a bare run, alternating which goes first; the ratio is their median. */
const ROUNDS = 6

const CLIENTS = 1000
const CHANGES = 20

const subscription = 'subscription { tankLevelChanged(tankId: "hot") { kind row { litres } position } }'

/** 1,000 WebSocket clients subscribed to one row, against a bare ws server broadcasting the same frames. */
const bench: Bench = {
  name: 'graphql-subscriptions',
  description: `Messages per second to ${CLIENTS} subscribed WebSocket clients through the gateway vs a bare ws broadcast of the same payloads`,
  async run() {
    // A first gateway run records the frames the bare server sends; one run of each side warms it up.
    const { frames } = await measureGateway()
    await measureBareBroadcast(frames, CLIENTS)
    const { figure, baseline, ratio, rounds } = await alternate(ROUNDS, {
      figure: async () => (await measureGateway()).perSecond,
      baseline: () => measureBareBroadcast(frames, CLIENTS),
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
      notes: `${CHANGES} changes to one row, each delivered to every client; clients in the same process on loopback; ratio: median of ${ROUNDS} alternating pairs of runs (${rounds}) after a warm-up run per side; rates: each side's median`,
    }
  },
}

async function measureGateway(): Promise<GatewayLoad> {
  const servers = await startBenchServers()
  const append = () =>
    servers.store.appendToStream('Tank-hot', [
      { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
    ])
  try {
    await append()
    return await measureGatewayLoad({
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
