import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { SCHEMA_VERSION_KEY } from '../aggregate/define-aggregate.ts'
import { SNAPSHOT_EVENT_TYPE, SNAPSHOTS_KEPT } from '../aggregate/snapshot-codec.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createCommandBus } from './create-command-bus.ts'
import { loadAggregate } from './load-aggregate.ts'

const Snapshotting = counterAggregate({ snapshotEvery: 4 })

async function incrementTimes(store: EventStore, times: number) {
  const bus = createCommandBus({ store, aggregates: [Snapshotting] })
  for (let n = 0; n < times; n++) {
    await bus.execute({ aggregate: 'Counter', command: 'increment', aggregateId: 'c-1', input: { by: 1 } })
  }
  bus.close()
}

async function snapshots(store: EventStore) {
  const events: RecordedEvent[] = []
  for await (const event of store.readStream(Snapshotting.snapshotStreamName('c-1'))) events.push(event)
  return events
}

/** Puts a snapshot into the snapshot stream by hand, as an older release (or a corrupted one) left it. */
function plantSnapshot(store: EventStore, state: unknown, revision: bigint) {
  const data = { aggregate: 'Counter', revision: String(revision), state, commands: [] }
  return store.appendToStream(Snapshotting.snapshotStreamName('c-1'), [
    { id: randomUUID(), type: SNAPSHOT_EVENT_TYPE, data },
  ])
}

describe('loadAggregate', () => {
  it('starts a new aggregate at revision -1 with its initial state', async () => {
    const loaded = await loadAggregate(createInMemoryEventStore(), Snapshotting, 'c-1')
    expect(loaded).toMatchObject({ state: { value: 0, locked: false, steps: 0 }, revision: -1n })
  })

  it('writes a snapshot every snapshotEvery events and caps the snapshot stream', async () => {
    const store = createInMemoryEventStore()
    await incrementTimes(store, 9)
    expect((await snapshots(store)).map((e) => (e.data as { revision: string }).revision)).toEqual(['3', '7'])
    expect(await store.getStreamMetadata(Snapshotting.snapshotStreamName('c-1'))).toEqual({
      $maxCount: SNAPSHOTS_KEPT,
    })
  })

  it('starts from the latest snapshot and folds only the events after it', async () => {
    const store = createInMemoryEventStore()
    await incrementTimes(store, 5)
    // A snapshot that disagrees with the events proves the load trusted it rather than replaying.
    await plantSnapshot(store, { value: 100, locked: false, steps: 4 }, 3n)
    const loaded = await loadAggregate(store, Snapshotting, 'c-1')
    expect(loaded).toMatchObject({ state: { value: 101, steps: 5 }, revision: 4n })
  })

  it('ignores a snapshot whose state no longer fits the state schema and rebuilds from the events', async () => {
    const store = createInMemoryEventStore()
    await incrementTimes(store, 5)
    await plantSnapshot(store, { value: 'a lot' }, 3n)
    const loaded = await loadAggregate(store, Snapshotting, 'c-1')
    expect(loaded).toMatchObject({ state: { value: 5, steps: 5 }, revision: 4n })
  })

  it('remembers the commands a snapshot carried, so a repeated command id is still answered', async () => {
    const store = createInMemoryEventStore()
    const commandId = randomUUID()
    const command = {
      aggregate: 'Counter',
      command: 'increment',
      aggregateId: 'c-1',
      input: { by: 1 },
      commandId,
    }
    const first = await createCommandBus({ store, aggregates: [Snapshotting] }).execute(command)
    await incrementTimes(store, 7)
    const [, second] = await snapshots(store)
    expect((second!.data as { commands: string[][] }).commands.map(([id]) => id)).toContain(commandId)
    // A bus that starts from the snapshot: the command id is known only from what the snapshot carried.
    expect(await createCommandBus({ store, aggregates: [Snapshotting] }).execute(command)).toEqual(first)
  })

  it('reads events stored at an older schema version through the upcaster', async () => {
    const store = createInMemoryEventStore()
    await store.appendToStream(Snapshotting.streamName('c-1'), [
      { id: randomUUID(), type: 'Incremented', data: { amount: 3 }, metadata: { [SCHEMA_VERSION_KEY]: 1 } },
    ])
    expect((await loadAggregate(store, Snapshotting, 'c-1')).state.value).toBe(3)
  })

  it('refuses a command to an aggregate whose stored event fails its schema with MALFORMED_EVENT, appending nothing', async () => {
    const store = createInMemoryEventStore()
    await incrementTimes(store, 1)
    await store.appendToStream(Snapshotting.streamName('c-1'), [
      { id: randomUUID(), type: 'Incremented', data: { by: 'three' }, metadata: { [SCHEMA_VERSION_KEY]: 2 } },
    ])
    const bus = createCommandBus({ store, aggregates: [Snapshotting] })
    const increment = { aggregate: 'Counter', command: 'increment', aggregateId: 'c-1', input: { by: 1 } }
    await expect(bus.execute(increment)).rejects.toMatchObject({
      code: 'MALFORMED_EVENT',
      streamName: 'Counter-c-1',
      revision: 1n,
    })
    bus.close()
    let events = 0
    for await (const _ of store.readStream(Snapshotting.streamName('c-1'))) events++
    expect(events).toBe(2)
  })

  it('fails with UNKNOWN_EVENT_TYPE naming the stream and revision of a stray event', async () => {
    const store = createInMemoryEventStore()
    await incrementTimes(store, 1)
    await store.appendToStream(Snapshotting.streamName('c-1'), [
      { id: randomUUID(), type: 'Stray', data: {} },
    ])
    await expect(loadAggregate(store, Snapshotting, 'c-1')).rejects.toMatchObject({
      code: 'UNKNOWN_EVENT_TYPE',
      streamName: 'Counter-c-1',
      revision: 1n,
      eventType: 'Stray',
    })
  })
})
