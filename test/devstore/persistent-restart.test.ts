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
  subject = await startStore({ onDisk: true })
})
afterEach(() => subject.stop())

const info = () => subject.client.getPersistentSubscriptionToStreamInfo('orders', 'workers')

describe('persistent subscriptions across a devstore restart', () => {
  it('resumes a group from its checkpoint, redelivering only what was not acked', async () => {
    const { client, store } = subject
    await appendNumbered(client, 'orders', 3)
    await client.createPersistentSubscriptionToStream('orders', 'workers', quickSettings())
    const before = client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    const delivered = await new Inbox(before).take(3)
    await before.ack(delivered[0]!, delivered[1]!)
    await eventually(info, (current) => current.stats.lastCheckpointedEventRevision === 1n)

    await store.faults.restart()

    const after = new Inbox(client.subscribeToPersistentSubscriptionToStream('orders', 'workers'))
    const [resumed] = await after.take(1)
    expect(numberOf(resumed!)).toBe(2)
  })

  it('keeps group definitions in $persistentSubscriptionConfig and reloads them', async () => {
    const { client, store } = subject
    await client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      quickSettings({ maxRetryCount: 4 }),
    )
    await store.faults.restart()
    expect((await info()).settings.maxRetryCount).toBe(4)
    const types: string[] = []
    for await (const resolved of client.readStream('$persistentSubscriptionConfig'))
      types.push(resolved.event?.type ?? '')
    expect(types).toEqual(['$PersistentConfig'])
  })

  it('writes checkpoints as $SubscriptionCheckpoint events in the group’s checkpoint stream', async () => {
    const { client } = subject
    await appendNumbered(client, 'orders', 1)
    await client.createPersistentSubscriptionToStream('orders', 'workers', quickSettings())
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    await subscription.ack(...(await new Inbox(subscription).take(1)))
    await eventually(info, (current) => current.stats.lastCheckpointedEventRevision === 0n)
    const checkpoints: unknown[] = []
    for await (const resolved of client.readStream('$persistentsubscription-orders::workers-checkpoint')) {
      checkpoints.push([resolved.event?.type, resolved.event?.data])
    }
    expect(checkpoints).toEqual([['$SubscriptionCheckpoint', 0]])
  })

  it('keeps parked messages across a restart and replays them after it', async () => {
    const { client, store } = subject
    await appendNumbered(client, 'orders', 1)
    await client.createPersistentSubscriptionToStream('orders', 'workers', quickSettings())
    const before = client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
    const [poison] = await new Inbox(before).take(1)
    await before.nack('park', 'poison', poison!)
    await eventually(info, (current) => current.stats.parkedMessageCount === 1n)

    await store.faults.restart()

    expect((await info()).stats.parkedMessageCount).toBe(1n)
    const after = new Inbox(client.subscribeToPersistentSubscriptionToStream('orders', 'workers'))
    await client.replayParkedMessagesToStream('orders', 'workers')
    const [replayed] = await after.take(1)
    expect(replayed?.event?.id).toBe(poison?.event?.id)
  })
})
