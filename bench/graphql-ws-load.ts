/**
 * The WebSocket side of the subscription benches: groups of graphql-transport-ws clients on the gateway, each
 * group on one subscription, and the same groups on a bare ws server sent the same frames, each measured in
 * frames delivered per second.
 */
import WebSocket, { WebSocketServer } from 'ws'

/** Clients sharing one subscription. */
export interface SubscriberGroup {
  readonly query: string
  readonly clients: number
}

export interface GatewayLoadOptions {
  /** The gateway's GraphQL WebSocket endpoint (ws://…/graphql). */
  readonly url: string
  readonly groups: readonly SubscriberGroup[]
  /** Makes the changes once every client is subscribed; each client is to receive `changes` frames. */
  readonly publish: () => Promise<void>
  readonly changes: number
}

/** Frames per second delivered, and per group the frames its first client received, to replay bare. */
export interface GatewayLoad {
  readonly perSecond: number
  readonly frames: string[][]
}

const CONNECT_BATCH = 100
const TIMEOUT_MS = 60_000

interface Counter {
  received: number
  wake?: () => void
}

export async function measureGatewayLoad(options: GatewayLoadOptions): Promise<GatewayLoad> {
  const clients = new CountingClients()
  const frames = options.groups.map(() => [] as string[])
  try {
    for (const [group, { query, clients: count }] of options.groups.entries()) {
      const target = { url: options.url, protocol: 'graphql-transport-ws', count }
      await clients.open(target, async (socket, counter, index) => {
        await opened(socket)
        socket.send(JSON.stringify({ type: 'connection_init' }))
        await new Promise((resolve) => socket.once('message', resolve))
        socket.on('message', (data) => {
          counter.received++
          // The first frame answers the subscription; the ones after it are the changes.
          if (index === 0 && counter.received > 1) frames[group]?.push((data as Buffer).toString())
          counter.wake?.()
        })
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }))
        await until(counter, 1)
      })
    }
    const started = performance.now()
    await options.publish()
    await clients.untilEach(1 + options.changes)
    return { perSecond: (clients.size * options.changes) / seconds(started), frames }
  } finally {
    clients.close()
  }
}

/**
 * Frames per second a bare ws server delivers when it sends each group's frames, in turns across groups, to
 * `clientsPerGroup` clients per group.
 */
export async function measureBareBroadcast(
  frames: readonly (readonly string[])[],
  clientsPerGroup: number,
): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const byGroup: WebSocket[][] = frames.map(() => [])
  server.on('connection', (socket, request) => byGroup[Number(request.url?.slice(1))]?.push(socket))
  const clients = new CountingClients()
  try {
    for (let group = 0; group < frames.length; group++) {
      const target = { url: `ws://127.0.0.1:${port}/${group}`, count: clientsPerGroup }
      await clients.open(target, async (socket, counter) => {
        socket.on('message', () => {
          counter.received++
          counter.wake?.()
        })
        await opened(socket)
      })
    }
    while (server.clients.size < clients.size) await new Promise((resolve) => setImmediate(resolve))
    const perClient = frames[0]?.length ?? 0
    const started = performance.now()
    for (let n = 0; n < perClient; n++)
      for (const [group, sockets] of byGroup.entries()) {
        const frame = frames[group]?.[n] ?? ''
        for (const socket of sockets) socket.send(frame)
      }
    await clients.untilEach(perClient)
    return (clients.size * perClient) / seconds(started)
  } finally {
    clients.close()
    await new Promise((resolve) => server.close(resolve))
  }
}

/** Client sockets, each with a count of the messages it received. */
class CountingClients {
  private readonly counters: Counter[] = []
  private readonly sockets: WebSocket[] = []

  get size(): number {
    return this.counters.length
  }

  /** Opens `count` clients on `url`, CONNECT_BATCH at a time, each set up (and awaited) by `setup`. */
  async open(
    target: { readonly url: string; readonly protocol?: string; readonly count: number },
    setup: (socket: WebSocket, counter: Counter, index: number) => Promise<void>,
  ): Promise<void> {
    const { url, protocol, count } = target
    for (let batch = 0; batch < count; batch += CONNECT_BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(CONNECT_BATCH, count - batch) }, (_, offset) => {
          const socket = new WebSocket(url, protocol)
          const counter: Counter = { received: 0 }
          this.sockets.push(socket)
          this.counters.push(counter)
          return setup(socket, counter, batch + offset)
        }),
      )
    }
  }

  untilEach(count: number): Promise<void[]> {
    return Promise.all(this.counters.map((counter) => until(counter, count)))
  }

  close(): void {
    for (const socket of this.sockets) socket.terminate()
  }
}

function opened(socket: WebSocket): Promise<unknown> {
  return new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject))
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

function seconds(since: number): number {
  return (performance.now() - since) / 1000
}
