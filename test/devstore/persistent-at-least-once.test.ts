import type {
  PersistentSubscriptionToStream,
  PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  appendNumbered,
  confirmed,
  eventually,
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

const EVENTS = 200

/** A small seeded generator, so a failure replays the same choices. */
function seeded(seed: number): () => number {
  let state = seed
  return () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0
    return state / 2 ** 32
  }
}

/** Acks most messages, nacks some for retry, and ignores a few so they time out. */
function unreliableConsumer(
  subscription: PersistentSubscriptionToStream,
  random: () => number,
  acked: Set<number>,
) {
  subscription.on('data', (message: PersistentSubscriptionToStreamResolvedEvent) => {
    const roll = random()
    if (roll < 0.7) {
      acked.add(numberOf(message))
      void subscription.ack(message)
    } else if (roll < 0.9) {
      void subscription.nack('retry', 'flaky', message)
    }
  })
  subscription.on('error', () => undefined)
}

describe('at-least-once delivery', () => {
  it('gets every event acked and checkpointed despite nacks and timeouts across two consumers', async () => {
    const { client } = subject
    await appendNumbered(client, 'orders', EVENTS)
    await client.createPersistentSubscriptionToStream(
      'orders',
      'workers',
      quickSettings({ messageTimeout: 200, maxRetryCount: 1_000, checkPointUpperBound: 50 }),
    )
    const acked = new Set<number>()
    const random = seeded(42)
    const consumers = [0, 1].map(() => client.subscribeToPersistentSubscriptionToStream('orders', 'workers'))
    for (const consumer of consumers) unreliableConsumer(consumer, random, acked)
    await Promise.all(consumers.map(confirmed))
    const info = await eventually(
      () => client.getPersistentSubscriptionToStreamInfo('orders', 'workers'),
      (current) => current.stats.lastCheckpointedEventRevision === BigInt(EVENTS - 1),
      15_000,
    )
    expect(acked.size).toBe(EVENTS)
    expect(info.stats.parkedMessageCount).toBe(0n)
  })
})
