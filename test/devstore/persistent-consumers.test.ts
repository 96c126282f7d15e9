import {
  jsonEvent,
  PersistentSubscriptionDroppedError,
  PersistentSubscriptionMaximumSubscribersReachedError,
  persistentSubscriptionToAllSettingsFromDefaults,
  streamNameFilter,
  UnavailableError,
} from '@eventstore/db-client'
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

const subscribe = () => subject.client.subscribeToPersistentSubscriptionToStream('orders', 'workers')
describe('consumers of a persistent subscription', () => {
  it('refuses a consumer beyond maxSubscriberCount', async () => {
    await subject.client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      quickSettings({ maxSubscriberCount: 1 }),
    )
    const first = subscribe()
    await confirmed(first)
    const second = new Inbox(subscribe())
    expect(await second.failure).toBeInstanceOf(PersistentSubscriptionMaximumSubscribersReachedError)
  })

  it('drops a consumer that nacks with stop, and hands its message to the next consumer', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    await subject.client.createPersistentSubscriptionToStream('orders', 'workers', quickSettings())
    const stopping = new Inbox(subscribe())
    const [message] = await stopping.take(1)
    await stopping.subscription.nack('stop', 'shutting down', message!)
    expect(await stopping.failure).toBeInstanceOf(PersistentSubscriptionDroppedError)
    const [again] = await new Inbox(subscribe()).take(1)
    expect(numberOf(again!)).toBe(0)
  })

  it('drops consumers with UNAVAILABLE when the devstore drops subscriptions, and redelivers to a new one', async () => {
    await appendNumbered(subject.client, 'orders', 1)
    await subject.client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      quickSettings({ messageTimeout: 10_000 }),
    )
    const dropped = new Inbox(subscribe())
    await dropped.take(1)
    subject.store.faults.dropAllSubscriptions()
    expect(await dropped.failure).toBeInstanceOf(UnavailableError)
    const [again] = await new Inbox(subscribe()).take(1)
    expect(again?.retryCount).toBe(1)
  })

  it('pins each source stream to one consumer under Pinned', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToAll(
      'pinned',
      persistentSubscriptionToAllSettingsFromDefaults({ startFrom: 'start', consumerStrategyName: 'Pinned' }),
      { filter: streamNameFilter({ prefixes: ['battery-'] }) },
    )
    const subscriptions = [0, 1].map(() => client.subscribeToPersistentSubscriptionToAll('pinned'))
    const inboxes = subscriptions.map((subscription) => new Inbox(subscription))
    await Promise.all(subscriptions.map(confirmed))
    const streams = ['battery-1', 'battery-2', 'battery-3', 'battery-4']
    for (const stream of streams) {
      await client.appendToStream(stream, [
        jsonEvent({ type: 'Charged', data: {} }),
        jsonEvent({ type: 'Charged', data: {} }),
      ])
    }
    await eventually(
      () => Promise.resolve(inboxes.reduce((sum, inbox) => sum + inbox.waiting, 0)),
      (total) => total === 8,
    )
    const taken = await Promise.all(inboxes.map((inbox) => inbox.take(inbox.waiting)))
    const consumersByStream = new Map<string, Set<number>>()
    taken.forEach((messages, consumer) => {
      for (const message of messages) {
        const stream = message.event?.streamId ?? ''
        consumersByStream.set(stream, (consumersByStream.get(stream) ?? new Set()).add(consumer))
      }
    })
    expect([...consumersByStream.keys()].sort()).toEqual(streams)
    for (const consumers of consumersByStream.values()) expect(consumers.size).toBe(1)
  })
})
