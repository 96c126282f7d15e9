import { randomUUID } from 'node:crypto'
import WebSocket, { WebSocketServer } from 'ws'
import type { Bench } from './run.ts'
import { startBenchServers } from './graphql-bench-fixture.ts'

const CLIENTS = 1000
const CHANGES = 20
const TIMEOUT_MS = 60_000

const subscription = 'subscription { tankLevelChanged(tankId: "hot") { kind row { litres } position } }'

interface Counter {
  received: number
  wake?: () => void
}

/** 1,000 WebSocket clients subscribed to one row, against a bare ws server broadcasting the same frames. */
const bench: Bench = {
  name: 'graphql-subscriptions',
  description: `Messages per second to ${CLIENTS} subscribed WebSocket clients through the gateway vs a bare ws broadcast of the same payloads`,
  async run() {
    const gatewayRate = await measureGateway()
    const bareRate = await measureBare(gatewayRate.frames)
    return {
      figure: {
        label: `GraphQL subscription frames to ${CLIENTS} clients`,
        value: Math.round(gatewayRate.perSecond),
        unit: 'msg/s',
      },
      baseline: { label: 'bare ws broadcast of the same frames', value: Math.round(bareRate), unit: 'msg/s' },
      ratio: gatewayRate.perSecond / bareRate,
      target: 0.5,
      notes: `${CHANGES} changes to one row, each delivered to every client; clients in the same process on loopback`,
    }
  },
}

async function measureGateway(): Promise<{ perSecond: number; frames: string[] }> {
  const servers = await startBenchServers()
  const counters: Counter[] = []
  const sockets: WebSocket[] = []
  const frames: string[] = []
  try {
    await servers.store.appendToStream('Tank-hot', [
      { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
    ])
    const wsUrl = `${servers.gatewayUrl.replace('http', 'ws')}/graphql`
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, CLIENTS - batch) }, async () => {
          const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
          const counter: Counter = { received: 0 }
          sockets.push(socket)
          counters.push(counter)
          await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
          socket.send(JSON.stringify({ type: 'connection_init' }))
          await new Promise((resolve) => socket.once('message', resolve))
          socket.on('message', (data) => {
            counter.received++
            if (counters[0] === counter && counter.received > 1) frames.push((data as Buffer).toString())
            counter.wake?.()
          })
          socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: subscription } }))
          await until(counter, 1)
        }),
      )
    }
    const started = performance.now()
    for (let n = 0; n < CHANGES; n++) {
      await servers.store.appendToStream('Tank-hot', [
        { id: randomUUID(), type: 'TankFilled', data: { site: 'b', litres: 1 } },
      ])
    }
    await Promise.all(counters.map((counter) => until(counter, 1 + CHANGES)))
    return { perSecond: (CLIENTS * CHANGES) / ((performance.now() - started) / 1000), frames }
  } finally {
    for (const socket of sockets) socket.terminate()
    await servers.close()
  }
}

async function measureBare(frames: readonly string[]): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const counters: Counter[] = []
  const sockets: WebSocket[] = []
  try {
    for (let batch = 0; batch < CLIENTS; batch += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, CLIENTS - batch) }, async () => {
          const socket = new WebSocket(`ws://127.0.0.1:${port}`)
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
    for (const frame of frames) for (const client of server.clients) client.send(frame)
    await Promise.all(counters.map((counter) => until(counter, frames.length)))
    return (CLIENTS * frames.length) / ((performance.now() - started) / 1000)
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
