import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectClient, subscribe } from '../e2e/fixtures/subscribe-over-ws.ts'
import { startDevStoreGateway, type DevStoreGateway } from './fixtures/start-devstore-gateway.ts'
import { tankFeed, upTo, type TankFeed } from './fixtures/tank-feed.ts'

interface PumpFrame {
  pumpEvents: { __typename: string; position: string }
}

describe('aggregate event feeds on a shared store subscription', () => {
  let gateway: DevStoreGateway
  beforeAll(async () => {
    gateway = await startDevStoreGateway()
  })
  afterAll(() => gateway.close())

  const noSubscriptionOpen = () => gateway.store.untilSubscriptions(({ open }) => open === 0)
  const closeAll = (feeds: readonly TankFeed[]) => Promise.all(feeds.map((feed) => feed.close()))

  it('serves many clients on one aggregate and on others through one store subscription per aggregate type', async () => {
    await noSubscriptionOpen()
    const opened = gateway.store.subscriptions.opened
    await gateway.fill('many-a', 2)
    await gateway.fill('many-b', 1)
    await gateway.store.appendToStream('Pump-p', [
      { id: crypto.randomUUID(), type: 'PumpStarted', data: { rpm: 9 } },
    ])
    const onA = Array.from({ length: 30 }, () => tankFeed(gateway.wsUrl, 'many-a'))
    const onB = Array.from({ length: 10 }, () => tankFeed(gateway.wsUrl, 'many-b'))
    const pumpClient = connectClient(gateway.wsUrl)
    const pump = subscribe<PumpFrame>(
      pumpClient,
      'subscription { pumpEvents(id: "p") { __typename ... on PumpStarted { position } } }',
    )
    for (const feed of onA) expect(await feed.litres(2)).toEqual([1, 2])
    for (const feed of onB) expect(await feed.litres(1)).toEqual([1])
    expect((await pump.take(1))[0]?.pumpEvents.__typename).toBe('PumpStarted')

    expect(gateway.store.subscriptions).toEqual({ opened: opened + 2, open: 2 })
    await gateway.fill('many-a', 3, 3)
    await gateway.fill('many-b', 2, 2)
    for (const feed of onA) expect(await feed.litres(3)).toEqual([3, 4, 5])
    // Had an event of many-a reached a many-b client, it would come before these.
    for (const feed of onB) expect(await feed.litres(2)).toEqual([2, 3])

    await closeAll([...onA, ...onB])
    await gateway.store.untilSubscriptions(({ open }) => open === 1)
    await pumpClient.dispose()
    await noSubscriptionOpen()
    expect(gateway.store.subscriptions.opened).toBe(opened + 2)
  })

  it('gives a client that joins while the shared subscription is behind its history, then live, each event once', async () => {
    await gateway.fill('behind', 1)
    const first = tankFeed(gateway.wsUrl, 'behind')
    expect(await first.litres(1)).toEqual([1])
    const release = gateway.store.holdSubscriptions()
    await gateway.fill('behind', 4, 2)
    const joining = tankFeed(gateway.wsUrl, 'behind')
    expect(await joining.litres(5)).toEqual(upTo(5))
    release()
    await gateway.fill('behind', 1, 6)
    expect(await joining.litres(1)).toEqual([6])
    expect(await first.litres(5)).toEqual(upTo(6, 2))
    await closeAll([first, joining])
  })

  it('gives a client whose read starts late each event once, those its read returns and those delivered meanwhile', async () => {
    await gateway.fill('late', 1)
    const first = tankFeed(gateway.wsUrl, 'late')
    expect(await first.litres(1)).toEqual([1])
    const read = gateway.store.holdNextRead('start')
    const joining = tankFeed(gateway.wsUrl, 'late')
    await read.waiting
    await gateway.store.untilDelivered(await gateway.fill('late', 3, 2))
    read.release()
    expect(await joining.litres(4)).toEqual(upTo(4))
    await gateway.fill('late', 1, 5)
    expect(await joining.litres(1)).toEqual([5])
    expect(await first.litres(4)).toEqual(upTo(5, 2))
    await closeAll([first, joining])
  })

  it('delivers to a client the events appended after its read ended and before it went live', async () => {
    await gateway.fill('between', 1)
    const read = gateway.store.holdNextRead('end')
    const joining = tankFeed(gateway.wsUrl, 'between')
    await read.waiting
    await gateway.store.untilDelivered(await gateway.fill('between', 3, 2))
    read.release()
    expect(await joining.litres(4)).toEqual(upTo(4))
    await joining.close()
  })

  it('keeps every client that joins during a burst of appends gapless and free of duplicates', async () => {
    const rounds = 20
    const perRound = 10
    const feeds = [tankFeed(gateway.wsUrl, 'burst')]
    for (let round = 0; round < rounds; round++) {
      await gateway.fill('burst', perRound, round * perRound + 1)
      if (round % 5 === 2) feeds.push(tankFeed(gateway.wsUrl, 'burst'))
    }
    await gateway.fill('burst', 1, rounds * perRound + 1)
    for (const feed of feeds)
      expect(await feed.litres(rounds * perRound + 1)).toEqual(upTo(rounds * perRound + 1))
    expect(gateway.store.subscriptions.open).toBe(1)
    await closeAll(feeds)
  })
})
