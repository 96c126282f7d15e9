import {
  BACKWARDS,
  END,
  FORWARDS,
  START,
  StreamNotFoundError,
  UnknownError,
  binaryEvent,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, failure, readAll, readStream, streamName } from './fixtures.ts'

// $all as EventStoreDB without projections holds it: no link events among the events counted.
const withoutProjections = { systemProjections: false }

describe('reading a stream', () => {
  it('reads forwards from a revision, up to count', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    const read = await readStream(client, stream, { fromRevision: 1n, maxCount: 3 })
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([1n, 2n, 3n])
  })

  it('reads backwards from the end', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    const read = await readStream(client, stream, { direction: BACKWARDS, fromRevision: END, maxCount: 2 })
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([4n, 3n])
  })

  it('reads backwards from a revision, inclusive', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    const read = await readStream(client, stream, { direction: BACKWARDS, fromRevision: 2n })
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([2n, 1n, 0n])
  })

  it('says stream not found for a stream that does not exist', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    const error = await failure(readStream(client, stream))
    expect(error).toBeInstanceOf(StreamNotFoundError)
    expect(error).toMatchObject({ streamName: stream })
  })

  it('carries no $all commit position on stream reads, but each event keeps its own position', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    const appended = await client.appendToStream(stream, event())
    const [read] = await readStream(client, stream)
    expect(read!.commitPosition).toBeUndefined()
    expect(read!.event!.position).toEqual(appended.position)
  })
})

describe('reading $all', () => {
  it('holds the system events of a fresh database', async () => {
    const { client } = await connected(withoutProjections)
    const all = await readAll(client)
    expect(all.length).toBeGreaterThan(0)
    expect(all.every((resolved) => resolved.event!.streamId.startsWith('$'))).toBe(true)
  })

  it('reads forwards from a position, including it', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    const [, second] = await readStream(client, stream)
    const read = await readAll(client, { fromPosition: second!.event!.position!, maxCount: 2 })
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([1n, 2n])
    expect(read[0]!.commitPosition).toBe(second!.event!.position!.commit)
  })

  it('reads backwards from a position, excluding it', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(3))
    const [, , third] = await readStream(client, stream)
    const read = await readAll(client, {
      direction: BACKWARDS,
      fromPosition: third!.event!.position!,
      maxCount: 2,
    })
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([1n, 0n])
  })

  it('reads backwards from the end, newest first', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    const [newest] = await readAll(client, { direction: BACKWARDS, fromPosition: END, maxCount: 1 })
    expect(newest!.event).toMatchObject({ streamId: stream, revision: 1n })
  })

  it('refuses a position that is not an event position with INVALID_ARGUMENT', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(2))
    const [read] = await readStream(client, stream)
    const position = read!.event!.position!
    const error = await failure(
      readAll(client, { fromPosition: { commit: position.commit + 1n, prepare: position.prepare + 1n } }),
    )
    // The client maps INVALID_ARGUMENT without an exception trailer to an UnknownError carrying the status.
    expect(error).toBeInstanceOf(UnknownError)
    expect(error).toMatchObject({ code: 3 })
  })

  it('reads forwards from the start across every stream in commit order', async () => {
    const { client } = await connected(withoutProjections)
    const first = streamName()
    const second = streamName()
    await client.appendToStream(first, event('A'))
    await client.appendToStream(second, event('B'))
    await client.appendToStream(first, event('C'))
    const mine = (await readAll(client, { direction: FORWARDS, fromPosition: START })).filter(
      (resolved) => !resolved.event!.streamId.startsWith('$'),
    )
    expect(mine.map((resolved) => resolved.event!.type)).toEqual(['A', 'B', 'C'])
  })
})

describe('links', () => {
  const link = (target: string, revision: bigint) =>
    binaryEvent({ type: '$>', data: Buffer.from(`${revision}@${target}`) })

  it('resolves a link to its target when asked, keeping the link alongside', async () => {
    const { client } = await connected(withoutProjections)
    const target = streamName()
    const links = streamName()
    await client.appendToStream(target, events(2))
    await client.appendToStream(links, link(target, 1n))
    const [resolved] = await readStream(client, links, { resolveLinkTos: true })
    expect(resolved!.event).toMatchObject({ streamId: target, revision: 1n })
    expect(resolved!.link).toMatchObject({ streamId: links, revision: 0n, type: '$>' })
  })

  it('leaves links as they are without resolve_links', async () => {
    const { client } = await connected(withoutProjections)
    const target = streamName()
    const links = streamName()
    await client.appendToStream(target, events(1))
    await client.appendToStream(links, link(target, 0n))
    const [resolved] = await readStream(client, links)
    expect(resolved!.event).toMatchObject({ streamId: links, type: '$>' })
    expect(resolved!.link).toBeUndefined()
  })
})

describe('stream metadata', () => {
  it('is a $metadata event in $$<stream>, read back by getStreamMetadata', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.setStreamMetadata(stream, { maxCount: 2, custom: { owner: 'ops' } })
    const { metadata } = await client.getStreamMetadata(stream)
    expect(metadata).toMatchObject({ maxCount: 2, custom: { owner: 'ops' } })
    const [raw] = await readStream(client, `$$${stream}`)
    expect(raw!.event!.type).toBe('$metadata')
  })

  it('hides events beyond $maxCount from stream reads while $all keeps them', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(5))
    await client.setStreamMetadata(stream, { maxCount: 2 })
    const read = await readStream(client, stream)
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([3n, 4n])
    const inAll = (await readAll(client)).filter((resolved) => resolved.event!.streamId === stream)
    expect(inAll).toHaveLength(5)
  })

  it('hides events before $tb (truncate before) from stream reads', async () => {
    const { client } = await connected(withoutProjections)
    const stream = streamName()
    await client.appendToStream(stream, events(4))
    await client.setStreamMetadata(stream, { truncateBefore: 3 })
    const read = await readStream(client, stream)
    expect(read.map((resolved) => resolved.event!.revision)).toEqual([3n])
  })
})
