import {
  BACKWARDS,
  END,
  STREAM_EXISTS,
  WrongExpectedVersionError,
  type AppendExpectedRevision,
  type EventStoreDBClient,
  type ResolvedEvent,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, failure, readAll, readStream, streamName } from './fixtures.ts'

// Rules of eventstoredb-wire.md that no other file of this suite drives through the client.

// Per-call credentials make the client take Streams.Append instead of BatchAppend.
const paths = [
  { name: 'BatchAppend', options: {} },
  { name: 'Append', options: { credentials: { username: 'admin', password: 'changeit' } } },
] as const

function revisionsOf(read: readonly ResolvedEvent[]): bigint[] {
  return read.map((resolved) => resolved.event!.revision)
}

describe.each(paths)('appending through $name', ({ name, options: pathOptions }) => {
  const append = (
    client: EventStoreDBClient,
    stream: string,
    appended: Parameters<EventStoreDBClient['appendToStream']>[1],
    expectedRevision: AppendExpectedRevision,
  ) => client.appendToStream(stream, appended, { ...pathOptions, expectedRevision })

  it('repeats an append with stream_exists idempotently when all its ids were just written', async () => {
    const { client } = await connected()
    const stream = streamName()
    await append(client, stream, events(1), 'any')
    const batch = events(2)
    const original = await append(client, stream, batch, STREAM_EXISTS)
    const repeated = await append(client, stream, batch, STREAM_EXISTS)
    expect(repeated).toEqual(original)
    expect(revisionsOf(await readStream(client, stream))).toEqual([0n, 1n, 2n])
  })

  it('refuses a stream_exists repeat when only its first id is known', async () => {
    const { client } = await connected()
    const stream = streamName()
    const [first] = events(1)
    await append(client, stream, [first!], 'any')
    const error = await failure(append(client, stream, [first!, event()], STREAM_EXISTS))
    expect(error).toBeInstanceOf(WrongExpectedVersionError)
  })

  it('answers a wrong expected revision as a failed result when the client does not throw on it', async () => {
    const { store, connect } = await connected()
    const client = connect(`${store.connectionString}&throwOnAppendFailure=false`)
    const stream = streamName()
    await append(client, stream, events(3), 'any')
    const result = await append(client, stream, events(1), 0n)
    expect(result).toMatchObject({ success: false, position: undefined })
    // Append carries the current revision; the client reads BatchAppend's as a boolean (its own quirk).
    if (name === 'Append') expect(result.nextExpectedRevision).toBe(2n)
    expect(await readStream(client, stream)).toHaveLength(3)
  })
})

describe('metadata rules at read time', () => {
  it('$tb hides events from stream reads while $all keeps them', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(4))
    await client.setStreamMetadata(stream, { truncateBefore: 2 })
    expect(revisionsOf(await readStream(client, stream))).toEqual([2n, 3n])
    const inAll = (await readAll(client)).filter((resolved) => resolved.event!.streamId === stream)
    expect(revisionsOf(inAll)).toEqual([0n, 1n, 2n, 3n])
  })

  it('$maxCount applies to backward reads too, from the end or from a revision', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    await client.setStreamMetadata(stream, { maxCount: 2 })
    const fromEnd = await readStream(client, stream, { direction: BACKWARDS, fromRevision: END })
    expect(revisionsOf(fromEnd)).toEqual([4n, 3n])
    const fromHidden = await readStream(client, stream, { direction: BACKWARDS, fromRevision: 2n })
    expect(revisionsOf(fromHidden)).toEqual([])
  })

  it('a catch-up subscription to the stream sees only what $maxCount leaves visible', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    await client.setStreamMetadata(stream, { maxCount: 2 })
    const seen: bigint[] = []
    const subscription = client.subscribeToStream(stream)
    const caughtUp = new Promise<void>((resolve) => subscription.once('caughtUp', () => resolve()))
    subscription.on('data', (resolved: ResolvedEvent) => seen.push(resolved.event!.revision))
    await caughtUp
    await subscription.unsubscribe()
    expect(seen).toEqual([3n, 4n])
  })
})
