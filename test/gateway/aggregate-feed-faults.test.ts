import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { startDevStoreGateway, type DevStoreGateway } from './fixtures/start-devstore-gateway.ts'
import { tankFeed, upTo } from './fixtures/tank-feed.ts'

const SLOW_BUFFER = 5

describe('aggregate event feeds through reconnects, store faults and slow clients', () => {
  let gateway: DevStoreGateway
  beforeAll(async () => {
    gateway = await startDevStoreGateway({
      limits: { subscriptionBuffer: SLOW_BUFFER },
      authorize: { subscriptions: { Tank: (_principal, request) => request.args['id'] !== 'vault' } },
    })
  })
  afterAll(() => gateway.close())

  it('resumes after a reconnect from `after` with the events it missed, then live', async () => {
    await gateway.fill('resume', 3)
    const first = tankFeed(gateway.wsUrl, 'resume')
    expect(await first.litres(3)).toEqual([1, 2, 3])
    await first.close()
    await gateway.store.untilSubscriptions(({ open }) => open === 0)
    await gateway.fill('resume', 2, 4)
    const second = tankFeed(gateway.wsUrl, 'resume', first.last)
    expect(await second.litres(2)).toEqual([4, 5])
    await gateway.fill('resume', 1, 6)
    expect(await second.litres(1)).toEqual([6])
    await second.close()
  })

  it('disconnects a client that stops reading without holding back the others on the same stream', async () => {
    await gateway.fill('slow', 1)
    const fast = tankFeed(gateway.wsUrl, 'slow')
    expect(await fast.litres(1)).toEqual([1])
    const slow = await rawSubscriber(
      gateway.wsUrl,
      'subscription { tankEvents(id: "slow") { ... on TankFilled { position data { site } } } }',
    )
    slow.pause()
    const big = 'x'.repeat(16 * 1024)
    let appended = 0
    for (let batch = 0; batch < 40 && !(await slowConsumerEnded(gateway)); batch++) {
      const events = Array.from({ length: 50 }, () => ({
        id: randomUUID(),
        type: 'TankFilled',
        data: { site: big, litres: 1 },
      }))
      await gateway.store.appendToStream('Tank-slow', events)
      appended += events.length
    }
    expect(await slowConsumerEnded(gateway)).toBe(true)
    slow.resume()
    expect(await slow.closed).toMatchObject({ code: 1008 })
    expect((await fast.litres(appended)).length).toBe(appended)
    await fast.close()
  })

  it('authorizes each operation: a refused feed gets the error, the shared feed carries on for the others', async () => {
    await gateway.fill('open', 1)
    const allowed = tankFeed(gateway.wsUrl, 'open')
    expect(await allowed.litres(1)).toEqual([1])
    const refused = tankFeed(gateway.wsUrl, 'vault')
    expect((await refused.frames.errors)[0]?.extensions?.code).toBe('UNAUTHENTICATED')
    await gateway.fill('open', 1, 2)
    expect(await allowed.litres(1)).toEqual([2])
    expect(gateway.store.subscriptions.open).toBe(1)
    await Promise.all([allowed.close(), refused.close()])
  })
})

// Its own devstore: the client reconnects its channel after the drop, which must not reach the other tests.
describe('aggregate event feeds when the store drops the shared subscription', () => {
  let gateway: DevStoreGateway
  beforeAll(async () => {
    gateway = await startDevStoreGateway()
  })
  afterAll(() => gateway.close())

  it('resubscribes from the last position when the store drops the shared subscription, losing nothing', async () => {
    await gateway.fill('drop-a', 1)
    await gateway.fill('drop-b', 1)
    const feeds = [
      tankFeed(gateway.wsUrl, 'drop-a'),
      tankFeed(gateway.wsUrl, 'drop-a'),
      tankFeed(gateway.wsUrl, 'drop-b'),
    ]
    for (const feed of feeds) expect(await feed.litres(1)).toEqual([1])
    const { opened } = gateway.store.subscriptions
    gateway.devstore.faults.dropAllSubscriptions()
    await gateway.fill('drop-a', 3, 2)
    await gateway.fill('drop-b', 3, 2)
    await gateway.store.untilSubscriptions((now) => now.opened === opened + 1 && now.open === 1)
    await gateway.fill('drop-a', 1, 5)
    await gateway.fill('drop-b', 1, 5)
    for (const feed of feeds) expect(await feed.litres(4)).toEqual(upTo(5, 2))
    expect(gateway.store.subscriptions).toEqual({ opened: opened + 1, open: 1 })
    await Promise.all(feeds.map((feed) => feed.close()))
  })
})

async function slowConsumerEnded(gateway: DevStoreGateway): Promise<boolean> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text()
  const line = text
    .split('\n')
    .find((candidate) => candidate.startsWith('annals_subscriptions_ended_total{reason="slow-consumer"}'))
  return line !== undefined && Number(line.split(' ').pop()) > 0
}

/** A graphql-transport-ws client on a bare socket, whose reading can be paused. */
async function rawSubscriber(wsUrl: string, query: string) {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws')
  await new Promise((resolve) => socket.once('open', resolve))
  socket.send(JSON.stringify({ type: 'connection_init' }))
  await new Promise((resolve) => socket.once('message', resolve))
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  )
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }))
  await new Promise((resolve) => socket.once('message', resolve))
  const raw = (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket
  return { closed, pause: () => raw.pause(), resume: () => raw.resume() }
}
