import { binaryEvent } from '@eventstore/db-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  appendNumbered,
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

const info = (stream: string) => () => subject.client.getPersistentSubscriptionToStreamInfo(stream, 'workers')

describe('parked messages and links', () => {
  it('replays only as many parked messages as stopAt asks, oldest first', async () => {
    const { client } = subject
    await appendNumbered(client, 'orders', 2)
    await client.createPersistentSubscriptionToStream('orders', 'workers', quickSettings())
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    const inbox = new Inbox(subscription)
    await subscription.nack('park', 'poison', ...(await inbox.take(2)))
    await eventually(info('orders'), (current) => current.stats.parkedMessageCount === 2n)
    await client.replayParkedMessagesToStream('orders', 'workers', { stopAt: 1 })
    const [replayed] = await inbox.take(1)
    expect(numberOf(replayed!)).toBe(0)
    expect((await info('orders')()).stats.parkedMessageCount).toBe(1n)
  })

  it('resolves links for a group with resolveLinkTos and takes acks by the link’s id', async () => {
    const { client } = subject
    await appendNumbered(client, 'orders', 1)
    const link = binaryEvent({ type: '$>', data: Buffer.from('0@orders') })
    await client.appendToStream('orders-links', [link])
    await client.createPersistentSubscriptionToStream(
      'orders-links',
      'workers',
      quickSettings({ resolveLinkTos: true }),
    )
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders-links', 'workers')
    const [delivered] = await new Inbox(subscription).take(1)
    expect(delivered?.event).toMatchObject({ streamId: 'orders', revision: 0n })
    expect(delivered?.link).toMatchObject({ streamId: 'orders-links', id: link.id })
    await subscription.ack(delivered!)
    const settled = await eventually(
      info('orders-links'),
      (current) => current.stats.lastCheckpointedEventRevision === 0n,
    )
    expect(settled.stats.totalInFlightMessages).toBe(0)
  })
})
