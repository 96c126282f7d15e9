import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  appendNumbered,
  confirmed,
  eventually,
  Inbox,
  numberOf,
  quickSettings,
  startStore,
  type StoreUnderTest,
} from './persistent-fixture.ts'

let subject: StoreUnderTest
beforeEach(async () => {
  subject = await startStore()
})
afterEach(() => subject.stop())

async function groupOn(stream: string, settings = quickSettings()) {
  await subject.client.createPersistentSubscriptionToStream(stream, 'workers', settings)
  const subscription = subject.client.subscribeToPersistentSubscriptionToStream(stream, 'workers')
  return { subscription, inbox: new Inbox(subscription) }
}

/** No timeouts within the test: for tests about who gets what, where a retry would blur the count. */
const patient = (changes: Parameters<typeof quickSettings>[0] = {}) =>
  quickSettings({ messageTimeout: 10_000, ...changes })

const info = (stream: string) => () => subject.client.getPersistentSubscriptionToStreamInfo(stream, 'workers')

describe('delivery to a persistent subscription', () => {
  it('delivers each event once with retry count 0 and checkpoints what was acked', async () => {
    await appendNumbered(subject.client, 'orders', 3)
    const { subscription, inbox } = await groupOn('orders')
    const delivered = await inbox.take(3)
    expect(delivered.map(numberOf)).toEqual([0, 1, 2])
    expect(delivered.map((message) => message.retryCount)).toEqual([0, 0, 0])
    await subscription.ack(...delivered)
    const settled = await eventually(
      info('orders'),
      (current) => current.stats.lastCheckpointedEventRevision === 2n,
    )
    expect(settled.stats.totalInFlightMessages).toBe(0)
  })

  it('starts at the given revision, inclusive, when the group has no checkpoint', async () => {
    await appendNumbered(subject.client, 'orders', 3)
    const { inbox } = await groupOn('orders', quickSettings({ startFrom: 1n }))
    expect((await inbox.take(2)).map(numberOf)).toEqual([1, 2])
  })

  it('delivers events appended after the consumer joined', async () => {
    const { subscription, inbox } = await groupOn('orders')
    await confirmed(subscription)
    await appendNumbered(subject.client, 'orders', 2)
    expect((await inbox.take(2)).map(numberOf)).toEqual([0, 1])
  })

  it('redelivers a message nacked with retry, counting the retry', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    const { subscription, inbox } = await groupOn('orders')
    const [first] = await inbox.take(1)
    await subscription.nack('retry', 'not now', first!)
    const [again] = await inbox.take(1)
    expect(again?.event?.id).toBe(first?.event?.id)
    expect(again?.retryCount).toBe(1)
  })

  it('moves past a message nacked with skip', async () => {
    await appendNumbered(subject.client, 'orders', 2)
    const { subscription, inbox } = await groupOn('orders')
    const [first, second] = await inbox.take(2)
    await subscription.nack('skip', 'irrelevant', first!)
    await subscription.ack(second!)
    const settled = await eventually(
      info('orders'),
      (current) => current.stats.lastCheckpointedEventRevision === 1n,
    )
    expect(settled.stats.parkedMessageCount).toBe(0n)
  })

  it('parks a message nacked with park and redelivers it on replay', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    const { subscription, inbox } = await groupOn('orders')
    const [poison] = await inbox.take(1)
    await subscription.nack('park', 'poison', poison!)
    await eventually(info('orders'), (current) => current.stats.parkedMessageCount === 1n)
    await subject.client.replayParkedMessagesToStream('orders', 'workers')
    const [replayed] = await inbox.take(1)
    expect(replayed?.event?.id).toBe(poison?.event?.id)
    await subscription.ack(replayed!)
    const settled = await eventually(info('orders'), (current) => current.stats.parkedMessageCount === 0n)
    expect(settled.stats.totalInFlightMessages).toBe(0)
  })

  it('retries a message that times out, then parks it after maxRetryCount retries', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    const { inbox } = await groupOn('orders', quickSettings({ maxRetryCount: 2 }))
    const attempts = await inbox.take(3)
    expect(attempts.map((message) => message.retryCount)).toEqual([0, 1, 2])
    const parked = await eventually(info('orders'), (current) => current.stats.parkedMessageCount === 1n)
    expect(parked.stats.lastCheckpointedEventRevision).toBe(0n)
    const parkedIds: (string | undefined)[] = []
    const links = subject.client.readStream('$persistentsubscription-orders::workers-parked', {
      resolveLinkTos: true,
    })
    for await (const link of links) parkedIds.push(link.event?.id)
    expect(parkedIds).toEqual([attempts[0]?.event?.id])
  })

  it('spreads messages over two consumers under RoundRobin', async () => {
    await subject.client.createPersistentSubscriptionToStream('orders', 'workers', patient())
    const subscriptions = [0, 1].map(() =>
      subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers'),
    )
    const inboxes = subscriptions.map((subscription) => new Inbox(subscription))
    await Promise.all(subscriptions.map(confirmed))
    await appendNumbered(subject.client, 'orders', 4)
    const [left, right] = await Promise.all(inboxes.map((inbox) => inbox.take(2)))
    expect([...left!, ...right!].map(numberOf).sort()).toEqual([0, 1, 2, 3])
  })

  it('sends everything to one consumer under DispatchToSingle while it has room', async () => {
    await subject.client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      patient({ consumerStrategyName: 'DispatchToSingle' }),
    )
    const first = subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    const firstInbox = new Inbox(first)
    await confirmed(first)
    const second = subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    await confirmed(second)
    await appendNumbered(subject.client, 'orders', 4)
    expect((await firstInbox.take(4)).map(numberOf)).toEqual([0, 1, 2, 3])
    const { connections } = await info('orders')()
    expect(connections.map((connection) => connection.totalItems).sort()).toEqual([0n, 4n])
  })

  it('hands a departed consumer’s unacked messages to the remaining one', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    await subject.client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      patient({ consumerStrategyName: 'DispatchToSingle' }),
    )
    const leaving = subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    await new Inbox(leaving).take(1)
    const staying = subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    const inbox = new Inbox(staying)
    await confirmed(staying)
    await leaving.unsubscribe()
    const [handedOver] = await inbox.take(1)
    expect(numberOf(handedOver!)).toBe(0)
    expect(handedOver?.retryCount).toBe(1)
  })
})
