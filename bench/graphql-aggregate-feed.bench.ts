import { randomUUID } from 'node:crypto'
import WebSocket, { WebSocketServer } from 'ws'
import type { Bench } from './run.ts'
import { startBenchServers } from './graphql-bench-fixture.ts'

const TANKS = 10
const CLIENTS_PER_TANK = 50
const CLIENTS = TANKS * CLIENTS_PER_TANK
const EVENTS_PER_TANK = 20
const TIMEOUT_MS = 60_000

const feedQuery = (tank: number) =>
  `subscription { tankEvents(id: "feed-${tank}") { ... on TankFilled { revision position data { litres } } } }`

interface Counter {
  received: number
  wake?: () => void
}

/** Clients on aggregate event feeds (one shared store subscription) vs a bare ws broadcast of the same frames. */
const bench: Bench = {
  name: 'graphql-aggregate-feed',
  description: `Event frames per second to ${CLIENTS} clients on ${TANKS} aggregate feeds vs a bare ws broadcast of the same frames`,
  async run() {
    const gateway = await measureGateway()
    const bare = await measureBare(gateway.frames)
    return {
      figure: {
        label: `aggregate event frames to ${CLIENTS} clients (${CLIENTS_PER_TANK} per aggregate)`,
        value: Math.round(gateway.perSecond),
        unit: 'msg/s',
      },
      baseline: { label: 'bare ws send of the same frames', value: Math.round(bare), unit: 'msg/s' },
      ratio: gateway.perSecond / bare,
      target: 0.5,
      notes: `${EVENTS_PER_TANK} events appended to each of ${TANKS} tanks, one at a time; in-memory store; clients in the same process on loopback`,
    }
  },
}

async function measureGateway(): Promise<{ perSecond: number; frames: string[][] }> {
  const servers = await startBenchServers()
  const counters: Counter[] = []
  const sockets: WebSocket[] = []
  const frames: string[][] = Array.from({ length: TANKS }, () => [])
  const append = (tank: number) =>
    servers.store.appendToStream(`Tank-feed-${tank}`, [
      { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
    ])
  try {
    for (let tank = 0; tank < TANKS; tank++) await append(tank)
    const wsUrl = `${servers.gatewayUrl.replace('http', 'ws')}/graphql`
    for (let tank = 0; tank < TANKS; tank++) {
      await Promise.all(
        Array.from({ length: CLIENTS_PER_TANK }, async (_, index) => {
          const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
          const counter: Counter = { received: 0 }
          sockets.push(socket)
          counters.push(counter)
          await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
          socket.send(JSON.stringify({ type: 'connection_init' }))
          await new Promise((resolve) => socket.once('message', resolve))
          socket.on('message', (data) => {
            counter.received++
            if (index === 0 && counter.received > 1) frames[tank]?.push((data as Buffer).toString())
            counter.wake?.()
          })
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: feedQuery(tank) } }))
          await until(counter, 1)
        }),
      )
    }
    const started = performance.now()
    for (let n = 0; n < EVENTS_PER_TANK; n++) for (let tank = 0; tank < TANKS; tank++) await append(tank)
    await Promise.all(counters.map((counter) => until(counter, 1 + EVENTS_PER_TANK)))
    return { perSecond: (CLIENTS * EVENTS_PER_TANK) / ((performance.now() - started) / 1000), frames }
  } finally {
    for (const socket of sockets) socket.terminate()
    await servers.close()
  }
}

async function measureBare(frames: readonly (readonly string[])[]): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const counters: Counter[] = []
  const sockets: WebSocket[] = []
  const byTank: WebSocket[][] = Array.from({ length: TANKS }, () => [])
  server.on('connection', (socket, request) => byTank[Number(request.url?.slice(1))]?.push(socket))
  try {
    for (let tank = 0; tank < TANKS; tank++) {
      await Promise.all(
        Array.from({ length: CLIENTS_PER_TANK }, async () => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}/${tank}`)
          const counter: Counter = { received: 0 }
          sockets.push(socket)
          counters.push(counter)
          socket.on('message', () => {
            counter.received++
            counter.wake?.()
          })
          await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
        }),
      )
    }
    while (server.clients.size < CLIENTS) await new Promise((resolve) => setImmediate(resolve))
    const started = performance.now()
    for (let n = 0; n < EVENTS_PER_TANK; n++)
      for (let tank = 0; tank < TANKS; tank++) {
        const frame = frames[tank]?.[n] ?? ''
        for (const socket of byTank[tank] ?? []) socket.send(frame)
      }
    await Promise.all(counters.map((counter) => until(counter, EVENTS_PER_TANK)))
    return (CLIENTS * EVENTS_PER_TANK) / ((performance.now() - started) / 1000)
  } finally {
    for (const socket of sockets) socket.terminate()
    await new Promise((resolve) => server.close(resolve))
  }
}

async function until(counter: Counter, count: number): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS
  while (counter.received < count) {
    if (performance.now() > deadline)
      throw new Error(`A client received ${counter.received} of ${count} messages`)
    await new Promise<void>((resolve) => {
      counter.wake = resolve
      setTimeout(resolve, 1000).unref()
    })
  }
}

export default bench
