import {
  PersistentSubscriptionDoesNotExistError,
  PersistentSubscriptionDroppedError,
  PersistentSubscriptionExistsError,
  persistentSubscriptionToAllSettingsFromDefaults,
  START,
} from '@eventstore/db-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  appendNumbered,
  confirmed,
  Inbox,
  quickSettings,
  startStore,
  type StoreUnderTest,
} from './persistent-fixture.ts'

let subject: StoreUnderTest
beforeEach(async () => {
  subject = await startStore()
})
afterEach(() => subject.stop())

describe('persistent subscription groups', () => {
  it('refuses a second group of the same name with PersistentSubscriptionExistsError', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    const error: unknown = await client
      .createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
      .catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(PersistentSubscriptionExistsError)
    expect(error).toMatchObject({ streamName: 'orders', groupName: 'billing' })
  })

  it('answers PersistentSubscriptionDoesNotExistError for a missing group', async () => {
    const { client } = subject
    const missing = PersistentSubscriptionDoesNotExistError
    await expect(client.deletePersistentSubscriptionToStream('orders', 'nobody')).rejects.toBeInstanceOf(
      missing,
    )
    await expect(
      client.updatePersistentSubscriptionToStream('orders', 'nobody', quickSettings()),
    ).rejects.toBeInstanceOf(missing)
    await expect(client.getPersistentSubscriptionToStreamInfo('orders', 'nobody')).rejects.toMatchObject({
      streamName: 'orders',
      groupName: 'nobody',
    })
    await expect(client.replayParkedMessagesToStream('orders', 'nobody')).rejects.toBeInstanceOf(missing)
  })

  it('ends a subscription to a missing group with PersistentSubscriptionDoesNotExistError', async () => {
    const subscription = subject.client.subscribeToPersistentSubscriptionToStream('orders', 'nobody')
    const error = await new Promise((resolve) => subscription.on('error', resolve))
    expect(error).toBeInstanceOf(PersistentSubscriptionDoesNotExistError)
  })

  it('shows a group’s settings and counters in its info', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream(
      'orders',
      'billing',
      quickSettings({ consumerStrategyName: 'DispatchToSingle' }),
    )
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(info).toMatchObject({ eventSource: 'orders', groupName: 'billing', status: 'Live' })
    expect(info.settings).toMatchObject({
      startFrom: START,
      messageTimeout: 300,
      consumerStrategyName: 'DispatchToSingle',
    })
    expect(info.stats.parkedMessageCount).toBe(0n)
  })

  it('lists groups of a stream, of $all and of everything', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    await client.createPersistentSubscriptionToStream('invoices', 'billing', quickSettings())
    await client.createPersistentSubscriptionToAll('audit', persistentSubscriptionToAllSettingsFromDefaults())
    expect(
      (await client.listPersistentSubscriptionsToStream('orders')).map((info) => info.groupName),
    ).toEqual(['billing'])
    expect((await client.listPersistentSubscriptionsToAll()).map((info) => info.groupName)).toEqual(['audit'])
    const everything = await client.listAllPersistentSubscriptions()
    expect(everything.map((info) => `${info.eventSource}::${info.groupName}`).sort()).toEqual([
      '$all::audit',
      'invoices::billing',
      'orders::billing',
    ])
  })

  it('applies an update to the group’s settings', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    await client.updatePersistentSubscriptionToStream(
      'orders',
      'billing',
      quickSettings({ maxRetryCount: 7 }),
    )
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(info.settings.maxRetryCount).toBe(7)
  })

  it('forgets a deleted group, so the name can be created again from scratch', async () => {
    const { client } = subject
    await appendNumbered(client, 'orders', 2)
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    await client.deletePersistentSubscriptionToStream('orders', 'billing')
    await expect(client.getPersistentSubscriptionToStreamInfo('orders', 'billing')).rejects.toBeInstanceOf(
      PersistentSubscriptionDoesNotExistError,
    )
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    const inbox = new Inbox(client.subscribeToPersistentSubscriptionToStream('orders', 'billing'))
    expect((await inbox.take(2)).map((delivered) => delivered.event?.revision)).toEqual([0n, 1n])
  })

  it('drops the consumers of a deleted group with PersistentSubscriptionDroppedError', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    const subscription = client.subscribeToPersistentSubscriptionToStream('orders', 'billing')
    const inbox = new Inbox(subscription)
    await confirmed(subscription)
    await client.deletePersistentSubscriptionToStream('orders', 'billing')
    expect(await inbox.failure).toBeInstanceOf(PersistentSubscriptionDroppedError)
  })

  it('keeps its groups across a subsystem restart', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToStream('orders', 'billing', quickSettings())
    await client.restartPersistentSubscriptionSubsystem()
    const info = await client.getPersistentSubscriptionToStreamInfo('orders', 'billing')
    expect(info.groupName).toBe('billing')
  })
})
