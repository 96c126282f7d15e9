import { once } from 'node:events'
import {
  END,
  binaryEvent,
  eventTypeFilter,
  excludeSystemEvents,
  streamNameFilter,
  type EventStoreDBClient,
  type Filter,
  type Position,
  type StreamSubscription,
  type AllStreamSubscription,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, readAll, streamName } from './fixtures.ts'

type Subscription = StreamSubscription | AllStreamSubscription

/** Everything a subscription says, in the order it says it, until `until` holds. */
async function record(subscription: Subscription, until: (log: string[]) => boolean): Promise<string[]> {
  const log: string[] = []
  subscription.on('confirmation', () => log.push('confirmation'))
  subscription.on('caughtUp', () => log.push('caughtUp'))
  subscription.on('data', (resolved: { event?: { streamId: string; revision: bigint } }) =>
    log.push(`${resolved.event!.streamId}@${resolved.event!.revision}`),
  )
  await new Promise<void>((resolve, reject) => {
    subscription.on('error', reject)
    const check = () => until(log) && resolve()
    subscription.on('data', check)
    subscription.on('caughtUp', check)
  })
  await subscription.unsubscribe()
  return log
}

async function filteredEventTypes(
  client: EventStoreDBClient,
  filter: Filter,
  expected: number,
): Promise<string[]> {
  const types: string[] = []
  const subscription = client.subscribeToAll({ filter })
  for await (const resolved of subscription) {
    types.push(resolved.event!.type)
    if (types.length === expected) break
  }
  return types
}

describe('subscribing to a stream', () => {
  it('confirms, sends the past events, says caught up, then sends live events', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    const subscription = client.subscribeToStream(stream)
    subscription.once('caughtUp', () => void client.appendToStream(stream, event()))
    const log = await record(subscription, (entries) => entries.length === 5)
    expect(log).toEqual(['confirmation', `${stream}@0`, `${stream}@1`, 'caughtUp', `${stream}@2`])
  })

  it('confirms and catches up on a stream that does not exist yet, then waits for it', async () => {
    const { client } = await connected()
    const stream = streamName()
    const subscription = client.subscribeToStream(stream)
    subscription.once('caughtUp', () => void client.appendToStream(stream, event()))
    const log = await record(subscription, (entries) => entries.length === 3)
    expect(log).toEqual(['confirmation', 'caughtUp', `${stream}@0`])
  })

  it('starts after the given revision', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(4))
    const log = await record(client.subscribeToStream(stream, { fromRevision: 1n }), (entries) =>
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
    const log = await record(subscription, (entries) => entries.length === 3)
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

describe('subscribing to $all', () => {
  it('starts after the given position', async () => {
    const { client } = await connected()
    const stream = streamName()
    const first = await client.appendToStream(stream, events(1))
    await client.appendToStream(stream, events(1))
    const subscription = client.subscribeToAll({ fromPosition: first.position! })
    const log = await record(subscription, (entries) => entries.includes('caughtUp'))
    expect(log).toEqual(['confirmation', `${stream}@1`, 'caughtUp'])
  })

  it('refuses a position that is not an event position with INVALID_ARGUMENT', async () => {
    const { client } = await connected()
    const appended = await client.appendToStream(streamName(), event())
    const position = appended.position!
    const subscription = client.subscribeToAll({
      fromPosition: { commit: position.commit + 1n, prepare: position.prepare + 1n },
    })
    const [error] = (await once(subscription, 'error')) as [{ code?: number }]
    expect(error.code).toBe(3)
  })

  it('carries the $all commit position of each event', async () => {
    const { client } = await connected()
    const appended = await client.appendToStream(streamName(), event())
    for await (const resolved of client.subscribeToAll({ filter: excludeSystemEvents() })) {
      expect(resolved.commitPosition).toBe(appended.position!.commit)
      break
    }
  })

  it('filters on stream-name prefixes', async () => {
    const { client } = await connected()
    await client.appendToStream(streamName('battery'), event('A'))
    await client.appendToStream(streamName('site'), event('B'))
    await client.appendToStream(streamName('battery'), event('C'))
    expect(await filteredEventTypes(client, streamNameFilter({ prefixes: ['battery-'] }), 2)).toEqual([
      'A',
      'C',
    ])
  })

  it('filters on a stream-name regex', async () => {
    const { client } = await connected()
    await client.appendToStream(streamName('battery'), event('A'))
    await client.appendToStream(streamName('site'), event('B'))
    expect(await filteredEventTypes(client, streamNameFilter({ regex: '^site-' }), 1)).toEqual(['B'])
  })

  it('filters on event-type prefixes and regex', async () => {
    const { client } = await connected()
    await client.appendToStream(streamName(), [
      event('ChargingStarted'),
      event('Faulted'),
      event('ChargingStopped'),
    ])
    expect(await filteredEventTypes(client, eventTypeFilter({ prefixes: ['Charging'] }), 2)).toEqual([
      'ChargingStarted',
      'ChargingStopped',
    ])
    expect(await filteredEventTypes(client, eventTypeFilter({ regex: 'Fault' }), 1)).toEqual(['Faulted'])
  })

  it('leaves out system events with excludeSystemEvents', async () => {
    const { client } = await connected()
    await client.setStreamMetadata(streamName(), { maxCount: 3 })
    await client.appendToStream(streamName(), event('Mine'))
    expect(await filteredEventTypes(client, excludeSystemEvents(), 1)).toEqual(['Mine'])
  })

  it('sends a checkpoint every window x multiplier events considered, and one when it goes live', async () => {
    const { client } = await connected()
    await client.appendToStream(streamName(), events(45, 'Other'))
    const all = await readAll(client)
    const checkpoints: Position[] = []
    const subscription = client.subscribeToAll({
      filter: eventTypeFilter({
        prefixes: ['Nothing'],
        maxSearchWindow: 5,
        checkpointInterval: 2,
        checkpointReached: (_subscription, position) => {
          checkpoints.push(position)
        },
      }),
    })
    await once(subscription, 'caughtUp')
    await subscription.unsubscribe()
    const every = 10
    const expected = all
      .filter((_, index) => (index + 1) % every === 0)
      .map((resolved) => resolved.event!.position)
    expect(checkpoints).toEqual([...expected, all.at(-1)!.event!.position])
  })

  it('uses a window of 32 when the client asks for count', async () => {
    const { client } = await connected()
    await client.appendToStream(streamName(), events(70, 'Other'))
    const all = await readAll(client)
    const checkpoints: Position[] = []
    const subscription = client.subscribeToAll({
      filter: eventTypeFilter({
        prefixes: ['Nothing'],
        checkpointReached: (_s, position) => void checkpoints.push(position),
      }),
    })
    await once(subscription, 'caughtUp')
    await subscription.unsubscribe()
    expect(checkpoints).toHaveLength(Math.floor(all.length / 32) + 1)
    expect(checkpoints[0]).toEqual(all[31]!.event!.position)
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
    let fellBehind = 0
    subscription.on('caughtUp', () => caughtUp++)
    subscription.on('fellBehind', () => fellBehind++)
    await once(subscription, 'caughtUp')
    // The test reads nothing while 3 MB of events are appended: the server's write buffer fills up.
    const total = 3000
    const blob = 'x'.repeat(1000)
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
    expect(fellBehind).toBeGreaterThanOrEqual(1)
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
