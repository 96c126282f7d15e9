import { persistentSubscriptionToStreamSettingsFromDefaults } from '@eventstore/db-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  appendNumbered,
  eventually,
  Inbox,
  quickSettings,
  startStore,
  type StoreUnderTest,
} from './persistent-fixture.ts'

// What GetInfo reports about a group and its consumers, and the settings EventStoreDB takes as given.

let subject: StoreUnderTest
beforeEach(async () => {
  subject = await startStore()
})
afterEach(() => subject.stop())

const LATENCY_KEYS = [
  'mean',
  'median',
  'fastest',
  'quintile 1',
  'quintile 2',
  'quintile 3',
  'quintile 4',
  'quintile 5',
  '90%',
  '95%',
  '99%',
  '99.5%',
  '99.9%',
  'highest',
]

describe('persistent subscription settings', () => {
  it('takes a checkpoint upper bound below the default lower bound as given, and checkpoints by it', async () => {
    const { client } = subject
    const settings = persistentSubscriptionToStreamSettingsFromDefaults({
      startFrom: 'start',
      checkPointUpperBound: 1,
    })
    await client.createPersistentSubscriptionToStream('orders', 'billing', settings)
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(info.settings).toMatchObject({ checkPointLowerBound: 10, checkPointUpperBound: 1 })
    await appendNumbered(client, 'orders', 3)
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'billing')
    const inbox = new Inbox(subscription)
    await subscription.ack(...(await inbox.take(3)))
    // One finished message reaches the upper bound, so every ack checkpoints without waiting for the time.
    const checkpointed = await eventually(
      async () => (await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')).stats,
      (stats) => stats.lastCheckpointedEventRevision === 2n,
    )
    expect(checkpointed.lastCheckpointedEventRevision).toBe(2n)
  })
})

describe('persistent subscription statistics', () => {
  it('reports each consumer’s push-to-ack latencies with extraStatistics, once it has acked', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream(
      'orders',
      'billing',
      quickSettings({ extraStatistics: true }),
    )
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'billing')
    const inbox = new Inbox(subscription)
    await appendNumbered(client, 'orders', 5)
    const delivered = await inbox.take(5)
    const before = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(before.connections).toHaveLength(1)
    expect(before.connections[0]!.extraStatistics).toBeUndefined()
    await subscription.ack(...delivered)
    const info = await eventually(
      () => client.getPersistentSubscriptionToStreamInfo('orders', 'billing'),
      (value) => value.connections[0]?.extraStatistics !== undefined,
    )
    const latencies = info.connections[0]!.extraStatistics!
    expect([...latencies.keys()]).toEqual(LATENCY_KEYS)
    expect([...latencies.values()].every((value) => value >= 0n)).toBe(true)
    expect(latencies.get('fastest')! <= latencies.get('median')!).toBe(true)
    expect(latencies.get('median')! <= latencies.get('highest')!).toBe(true)
    expect(latencies.get('quintile 5')).toBe(latencies.get('highest'))
  })

  it('leaves the latencies out without extraStatistics', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'billing')
    const inbox = new Inbox(subscription)
    await appendNumbered(client, 'orders', 2)
    await subscription.ack(...(await inbox.take(2)))
    await eventually(
      async () => (await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')).stats,
      (stats) => stats.lastCheckpointedEventRevision === 1n,
    )
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(info.connections[0]!.extraStatistics).toBeUndefined()
  })

  it('counts the items delivered since the previous call, and in total, for the group and each consumer', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'billing', {
      bufferSize: 100,
    })
    const inbox = new Inbox(subscription)
    await appendNumbered(client, 'orders', 4)
    await subscription.ack(...(await inbox.take(4)))
    const first = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(first.stats).toMatchObject({ totalItems: 4n, countSinceLastMeasurement: 4n })
    expect(first.connections[0]).toMatchObject({ totalItems: 4n, countSinceLastMeasurement: 4n, from: '' })
    await appendNumbered(client, 'orders', 3, 4)
    await subscription.ack(...(await inbox.take(3)))
    const second = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(second.stats).toMatchObject({ totalItems: 7n, countSinceLastMeasurement: 3n })
    expect(second.connections[0]).toMatchObject({ totalItems: 7n, countSinceLastMeasurement: 3n })
    expect(second.stats.averagePerSecond).toBeGreaterThan(0)
  })
})
