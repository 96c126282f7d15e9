import { once } from 'node:events'
import { END, binaryEvent, streamNameFilter } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, streamName } from './fixtures.ts'
import { recordSubscription } from './record-subscription.ts'

// A subscription's life: confirmed, it sends the past events, says it is caught up, then sends live ones;
// a subscriber that falls behind catches up again; an unsubscribe ends it quietly. Subscriptions to $all
// (positions, filters, checkpoints): subscription-all.test.ts.

describe('subscribing to a stream', () => {
  it('confirms, sends the past events, says caught up, then sends live events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    const subscription = client.subscribeToStream(stream)
    subscription.once('caughtUp', () => void client.appendToStream(stream, event()))
    const log = await recordSubscription(subscription, (entries) => entries.length === 5)
    expect(log).toEqual(['confirmation', `${stream}@0`, `${stream}@1`, 'caughtUp', `${stream}@2`])
  })

  it('confirms and catches up on a stream that does not exist yet, then waits for it', async () => {
    const { client } = await connected()
    const stream = streamName()
    const subscription = client.subscribeToStream(stream)
    subscription.once('caughtUp', () => void client.appendToStream(stream, event()))
    const log = await recordSubscription(subscription, (entries) => entries.length === 3)
    expect(log).toEqual(['confirmation', 'caughtUp', `${stream}@0`])
  })

  it('starts after the given revision', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(4))
    const log = await recordSubscription(client.subscribeToStream(stream, { fromRevision: 1n }), (entries) =>
      entries.includes('caughtUp'),
    )
    expect(log).toEqual(['confirmation', `${stream}@2`, `${stream}@3`, 'caughtUp'])
  })

  it('starts at the end with only new events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    const subscription = client.subscribeToStream(stream, { fromRevision: END })
    subscription.once('caughtUp', () => void client.appendToStream(stream, event()))
    const log = await recordSubscription(subscription, (entries) => entries.length === 3)
    expect(log).toEqual(['confirmation', 'caughtUp', `${stream}@3`])
  })

  it('resolves links when asked', async () => {
    const { client } = await connected()
    const target = streamName()
    const links = streamName()
    await client.appendToStream(target, events(1))
    await client.appendToStream(links, binaryEvent({ type: '$>', data: Buffer.from(`0@${target}`) }))
    for await (const resolved of client.subscribeToStream(links, { resolveLinkTos: true })) {
      expect(resolved.event).toMatchObject({ streamId: target, revision: 0n })
      expect(resolved.link).toMatchObject({ streamId: links, type: '$>' })
      break
    }
  })
})

describe('a subscriber that falls behind', () => {
  it('goes back to catching up, then is caught up again, with no gap, duplicate or reordering', async () => {
    const { client, connect } = await connected()
    const writer = connect()
    const stream = streamName()
    const subscription = client.subscribeToAll({
      fromPosition: END,
      filter: streamNameFilter({ prefixes: [stream] }),
    })
    let caughtUp = 0
    subscription.on('caughtUp', () => caughtUp++)
    await once(subscription, 'caughtUp')
    // The test reads nothing while 24 MB of events are appended: past the server's 16 MiB live queue.
    const total = 3000
    const blob = 'x'.repeat(8000)
    for (let batch = 0; batch < total / 100; batch++) {
      await writer.appendToStream(
        stream,
        Array.from({ length: 100 }, (_, index) => event('Filled', { index: batch * 100 + index, blob })),
      )
    }
    const revisions: bigint[] = []
    await new Promise<void>((resolve, reject) => {
      const check = () => revisions.length === total && caughtUp >= 2 && resolve()
      subscription.on('error', reject)
      subscription.on('caughtUp', check)
      subscription.on('data', (resolved: { event?: { revision: bigint } }) => {
        revisions.push(resolved.event!.revision)
        check()
      })
    })
    await subscription.unsubscribe()
    expect(revisions).toEqual(Array.from({ length: total }, (_, index) => BigInt(index)))
    expect(caughtUp).toBeGreaterThanOrEqual(2)
  })
})

describe('unsubscribing', () => {
  it('cancels the call without an error', async () => {
    const { client } = await connected()
    const subscription = client.subscribeToAll()
    const errors: unknown[] = []
    subscription.on('error', (error) => errors.push(error))
    await once(subscription, 'caughtUp')
    await subscription.unsubscribe()
    await client.appendToStream(streamName(), event())
    expect(errors).toEqual([])
  })
})
