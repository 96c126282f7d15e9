/**
 * The WebSocket side of the subscription benches: groups of graphql-transport-ws clients on the gateway, each
 * group on one subscription, and the same groups on a bare ws server sent the same frames, each measured in
 * frames delivered per second. The clients run in the load generator's process on both sides.
 */
import { WebSocketServer, type WebSocket } from 'ws'
import type { LoadGenerator } from './load-generator.ts'

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

export async function measureGatewayLoad(
  generator: LoadGenerator,
  options: GatewayLoadOptions,
): Promise<GatewayLoad> {
  const clients = options.groups.reduce((sum, group) => sum + group.clients, 0)
  try {
    await generator.openSockets(
      options.groups.map(({ query, clients: count }) => ({ url: options.url, count, subscribe: query })),
    )
    const started = performance.now()
    await options.publish()
    const frames = await generator.untilEach(options.changes)
    return { perSecond: (clients * options.changes) / seconds(started), frames }
  } finally {
    await generator.closeSockets()
  }
}

/**
 * Frames per second a bare ws server delivers when it sends each group's frames, in turns across groups, to
 * `clientsPerGroup` clients per group.
 */
export async function measureBareBroadcast(
  generator: LoadGenerator,
  frames: readonly (readonly string[])[],
  clientsPerGroup: number,
): Promise<number> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  await new Promise((resolve) => server.once('listening', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const byGroup: WebSocket[][] = frames.map(() => [])
  server.on('connection', (socket, request) => byGroup[Number(request.url?.slice(1))]?.push(socket))
  try {
    await generator.openSockets(
      frames.map((_, group) => ({ url: `ws://127.0.0.1:${port}/${group}`, count: clientsPerGroup })),
    )
    const clients = frames.length * clientsPerGroup
    while (server.clients.size < clients) await new Promise((resolve) => setImmediate(resolve))
    const perClient = frames[0]?.length ?? 0
    const started = performance.now()
    for (let n = 0; n < perClient; n++)
      for (const [group, sockets] of byGroup.entries()) {
        const frame = frames[group]?.[n] ?? ''
        for (const socket of sockets) socket.send(frame)
      }
    await generator.untilEach(perClient)
    return (clients * perClient) / seconds(started)
  } finally {
    await generator.closeSockets()
    await new Promise((resolve) => server.close(resolve))
  }
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000
}
