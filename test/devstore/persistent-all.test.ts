import {
  END,
  jsonEvent,
  persistentSubscriptionToAllSettingsFromDefaults,
  START,
  streamNameFilter,
} from '@eventstore/db-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { confirmed, eventually, Inbox, startStore, type StoreUnderTest } from './persistent-fixture.ts'

let subject: StoreUnderTest
beforeEach(async () => {
  // $all without link events, so a group delivers exactly what the test appends.
  subject = await startStore({ systemProjections: false })
})
afterEach(() => subject.stop())

const allSettings = (startFrom: typeof START | typeof END) =>
  persistentSubscriptionToAllSettingsFromDefaults({
    startFrom,
    messageTimeout: 300,
    checkPointAfter: 100,
    checkPointLowerBound: 1,
    checkPointUpperBound: 10,
  })

const placed = (type: string) => jsonEvent({ type, data: { at: Date.now() } })

describe('persistent subscriptions to $all', () => {
  it('delivers only the events its stream-name filter lets through', async () => {
    const { client } = subject
    await client.appendToStream('payments-1', [placed('PaymentTaken')])
    await client.appendToStream('orders-1', [placed('OrderPlaced')])
    await client.createPersistentSubscriptionToAll('audit', allSettings(START), {
      filter: streamNameFilter({ prefixes: ['orders-'] }),
    })
    const subscription = client.subscribeToPersistentSubscriptionToAll('audit')
    const [delivered] = await new Inbox(subscription).take(1)
    expect(delivered?.event).toMatchObject({ streamId: 'orders-1', type: 'OrderPlaced', revision: 0n })
    await subscription.ack(delivered!)
    const info = await eventually(
      () => client.getPersistentSubscriptionToAllInfo('audit'),
      (current) => current.stats.lastCheckpointedEventPosition !== undefined,
    )
    expect(info.stats.lastCheckpointedEventPosition?.commit).toBe(delivered?.event?.position?.commit)
    expect(info.settings.startFrom).toBe(START)
  })

  it('starts at the end: delivers what is appended later, and none of its own bookkeeping', async () => {
    const { client } = subject
    await client.appendToStream('orders-1', [placed('Before')])
    await client.createPersistentSubscriptionToAll('audit', allSettings(END))
    const subscription = client.subscribeToPersistentSubscriptionToAll('audit')
    const inbox = new Inbox(subscription)
    await confirmed(subscription)
    await client.appendToStream('orders-1', [placed('First')])
    const [first] = await inbox.take(1)
    await subscription.ack(first!)
    await eventually(
      () => client.getPersistentSubscriptionToAllInfo('audit'),
      (current) => current.stats.lastCheckpointedEventPosition !== undefined,
    )
    await client.appendToStream('orders-1', [placed('Second')])
    const [second] = await inbox.take(1)
    expect([first, second].map((message) => message?.event?.type)).toEqual(['First', 'Second'])
  })

  it('deletes a $all group', async () => {
    const { client } = subject
    await client.createPersistentSubscriptionToAll('audit', allSettings(START))
    await client.deletePersistentSubscriptionToAll('audit')
    await expect(client.getPersistentSubscriptionToAllInfo('audit')).rejects.toMatchObject({
      groupName: 'audit',
    })
  })
})
