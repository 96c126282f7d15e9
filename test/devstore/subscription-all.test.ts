import { once } from 'node:events'
import {
  eventTypeFilter,
  excludeSystemEvents,
  streamNameFilter,
  type EventStoreDBClient,
  type Filter,
  type Position,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, readAll, streamName } from './fixtures.ts'

// $all as EventStoreDB without projections holds it: no link events among the events counted.
const withoutProjections = { systemProjections: false }
import { recordSubscription } from './record-subscription.ts'

// Subscriptions to $all: where they start, the positions they carry, the filters the server applies, and the
// checkpoints a filtered subscription sends while it finds nothing.

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

describe('subscribing to $all', () => {
  it('starts after the given position', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    const first = await client.appendToStream(stream, events(1))
    await client.appendToStream(stream, events(1))
    const subscription = client.subscribeToAll({ fromPosition: first.position! })
    const log = await recordSubscription(subscription, (entries) => entries.includes('caughtUp'))
    expect(log).toEqual(['confirmation', `${stream}@1`, 'caughtUp'])
  })

  it('refuses a position that is not an event position with INVALID_ARGUMENT', async () => {
    const { client } = await connected(withoutProjections)
    const appended = await client.appendToStream(streamName(), event())
    const position = appended.position!
    const subscription = client.subscribeToAll({
      fromPosition: { commit: position.commit + 1n, prepare: position.prepare + 1n },
    })
    const [error] = (await once(subscription, 'error')) as [{ code?: number }]
    expect(error.code).toBe(3)
  })

  it('carries the $all commit position of each event', async () => {
    const { client } = await connected(withoutProjections)
    const appended = await client.appendToStream(streamName(), event())
    for await (const resolved of client.subscribeToAll({ filter: excludeSystemEvents() })) {
      expect(resolved.commitPosition).toBe(appended.position!.commit)
      break
    }
  })

  it('filters on stream-name prefixes', async () => {
    const { client } = await connected(withoutProjections)
    await client.appendToStream(streamName('battery'), event('A'))
    await client.appendToStream(streamName('site'), event('B'))
    await client.appendToStream(streamName('battery'), event('C'))
    expect(await filteredEventTypes(client, streamNameFilter({ prefixes: ['battery-'] }), 2)).toEqual([
      'A',
      'C',
    ])
  })

  it('filters on a stream-name regex', async () => {
    const { client } = await connected(withoutProjections)
    await client.appendToStream(streamName('battery'), event('A'))
    await client.appendToStream(streamName('site'), event('B'))
    expect(await filteredEventTypes(client, streamNameFilter({ regex: '^site-' }), 1)).toEqual(['B'])
  })

  it('filters on event-type prefixes and regex', async () => {
    const { client } = await connected(withoutProjections)
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
    const { client } = await connected(withoutProjections)
    await client.setStreamMetadata(streamName(), { maxCount: 3 })
    await client.appendToStream(streamName(), event('Mine'))
    expect(await filteredEventTypes(client, excludeSystemEvents(), 1)).toEqual(['Mine'])
  })

  it('sends a checkpoint every window x multiplier events considered, and one when it goes live', async () => {
    const { client } = await connected(withoutProjections)
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
    const { client } = await connected(withoutProjections)
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
