import {
  BACKWARDS,
  END,
  binaryEvent,
  type EventStoreDBClient,
  type ResolvedEvent,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import {
  connected,
  event,
  events,
  readAll,
  readStream,
  retryUnavailable,
  streamName,
  temporaryDataDir,
} from './fixtures.ts'

// `$maxAge` (seconds) over the wire: EventStoreDB hides a stream's older events from reads of the stream at
// read time, and `$all`, which bypasses the stream index, still holds them until a scavenge. The devstore's
// injected clock (createDevStore's `now`) ages events without sleeping.

const SECOND = 1_000

/** A clock that moves only when told to. */
function testClock(start = Date.UTC(2026, 0, 1)) {
  let time = start
  return { now: () => time, advance: (ms: number) => (time += ms) }
}

function revisionsOf(read: readonly ResolvedEvent[]): bigint[] {
  return read.map((resolved) => resolved.event!.revision)
}

async function revisions(client: EventStoreDBClient, stream: string): Promise<bigint[]> {
  return revisionsOf(await readStream(client, stream))
}

describe('$maxAge', () => {
  it('stamps each event with the injected clock, as the client sees it', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, event())
    const [read] = await readStream(client, stream)
    expect(read!.event!.created).toEqual(new Date(clock.now()))
  })

  it('hides events older than $maxAge seconds from stream reads, forwards and backwards', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    clock.advance(10 * SECOND)
    await client.appendToStream(stream, events(2))
    await client.setStreamMetadata(stream, { maxAge: 5 })
    expect(await revisions(client, stream)).toEqual([2n, 3n])
    const backwards = await readStream(client, stream, { direction: BACKWARDS, fromRevision: END })
    expect(revisionsOf(backwards)).toEqual([3n, 2n])
    expect(revisionsOf(await readStream(client, stream, { fromRevision: 0n, maxCount: 1 }))).toEqual([2n])
  })

  it('judges age when the stream is read, so events age out as time passes', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    await client.setStreamMetadata(stream, { maxAge: 60 })
    expect(await revisions(client, stream)).toEqual([0n, 1n, 2n])
    clock.advance(59 * SECOND)
    expect(await revisions(client, stream)).toEqual([0n, 1n, 2n])
    clock.advance(2 * SECOND)
    // The stream still exists: an empty read, not StreamNotFound; and it keeps its revisions.
    expect(await revisions(client, stream)).toEqual([])
    const appended = await client.appendToStream(stream, event(), { expectedRevision: 2n })
    expect(appended.nextExpectedRevision).toBe(3n)
    expect(await revisions(client, stream)).toEqual([3n])
  })

  it('leaves $all untouched: expired events are still read there', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    await client.setStreamMetadata(stream, { maxAge: 1 })
    clock.advance(5 * SECOND)
    expect(await revisions(client, stream)).toEqual([])
    const inAll = (await readAll(client)).filter((resolved) => resolved.event!.streamId === stream)
    expect(revisionsOf(inAll)).toEqual([0n, 1n, 2n])
  })

  it('leaves a link to an expired event unresolved: the link arrives without its event', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const target = streamName()
    const links = streamName()
    await client.appendToStream(target, events(2))
    clock.advance(10 * SECOND)
    await client.appendToStream(target, events(1))
    await client.setStreamMetadata(target, { maxAge: 5 })
    const link = (revision: bigint) => binaryEvent({ type: '$>', data: Buffer.from(`${revision}@${target}`) })
    await client.appendToStream(links, [link(0n), link(2n)])
    const [expired, recent] = await readStream(client, links, { resolveLinkTos: true })
    expect(expired!.event).toBeUndefined()
    expect(expired!.link).toMatchObject({ streamId: links, revision: 0n, type: '$>' })
    expect(recent!.event).toMatchObject({ streamId: target, revision: 2n })
  })

  it('with $maxCount, hides an event that either rule hides', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    clock.advance(10 * SECOND)
    await client.appendToStream(stream, events(2))
    await client.setStreamMetadata(stream, { maxAge: 5, maxCount: 4 })
    expect(await revisions(client, stream)).toEqual([3n, 4n])
    await client.setStreamMetadata(stream, { maxAge: 60, maxCount: 4 })
    expect(await revisions(client, stream)).toEqual([1n, 2n, 3n, 4n])
    await client.setStreamMetadata(stream, { maxAge: 60, maxCount: 1 })
    expect(await revisions(client, stream)).toEqual([4n])
  })

  it('hides expired events from a catch-up subscription to the stream, then delivers live ones', async () => {
    const clock = testClock()
    const { client } = await connected({ now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    clock.advance(10 * SECOND)
    await client.appendToStream(stream, events(1))
    await client.setStreamMetadata(stream, { maxAge: 5 })
    const seen: string[] = []
    const subscription = client.subscribeToStream(stream)
    let live: Promise<unknown> = Promise.resolve()
    subscription.on('caughtUp', () => {
      seen.push('caughtUp')
      live = client.appendToStream(stream, event())
    })
    for await (const resolved of subscription) {
      seen.push(`@${resolved.event!.revision}`)
      if (resolved.event!.revision === 3n) break
    }
    await live
    expect(seen).toEqual(['@2', 'caughtUp', '@3'])
  })

  it('still applies after a restart on the same data, since each event keeps its time', async () => {
    const clock = testClock()
    const folder = await temporaryDataDir()
    const { client, store } = await connected({ dataDir: folder, now: clock.now })
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    clock.advance(10 * SECOND)
    await client.appendToStream(stream, events(1))
    await client.setStreamMetadata(stream, { maxAge: 5, custom: { kept: true } })
    await store.faults.restart()
    expect(await retryUnavailable(() => revisions(client, stream))).toEqual([2n])
    await store.close()

    clock.advance(10 * SECOND)
    const reopened = await connected({ dataDir: folder, now: clock.now })
    expect(await revisions(reopened.client, stream)).toEqual([])
    expect((await reopened.client.getStreamMetadata(stream)).metadata).toMatchObject({
      maxAge: 5,
      custom: { kept: true },
    })
    const inAll = (await readAll(reopened.client)).filter((resolved) => resolved.event!.streamId === stream)
    expect(inAll).toHaveLength(3)
  })
})
