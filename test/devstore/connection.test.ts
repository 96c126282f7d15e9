import { EventStoreDBClient } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, readStream, streamName } from './fixtures.ts'

/** The client's own view of ServerFeatures (a protected member: we read what the client understood). */
async function supportedBy(client: EventStoreDBClient, path: string, feature?: string): Promise<boolean> {
  const capabilities = await (
    client as unknown as { capabilities: Promise<{ supports: (m: { path: string }, f?: string) => boolean }> }
  ).capabilities
  return capabilities.supports({ path }, feature)
}

describe('connecting', () => {
  it('serves esdb:// single-node connection strings', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('answers gossip so esdb+discover:// finds the node', async () => {
    const { store, connect } = await connected()
    const client = connect(`esdb+discover://127.0.0.1:${store.port}?tls=false`)
    const stream = streamName()
    const result = await client.appendToStream(stream, event())
    expect(result.nextExpectedRevision).toBe(0n)
  })

  it('answers gossip for a connection string with several hosts', async () => {
    const { store, connect } = await connected()
    const client = connect(`esdb://127.0.0.1:${store.port},127.0.0.1:${store.port}?tls=false`)
    const stream = streamName()
    await client.appendToStream(stream, event())
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('advertises BatchAppend so appends take the shared bidirectional stream', async () => {
    const { client } = await connected()
    expect(await supportedBy(client, '/event_store.client.streams.Streams/BatchAppend')).toBe(true)
  })

  it('returns the connection string of its bound port when asked for port 0', async () => {
    const { store } = await connected({ port: 0 })
    expect(store.port).toBeGreaterThan(0)
    expect(store.connectionString).toBe(`esdb://127.0.0.1:${store.port}?tls=false`)
  })

  it('stamps events with their creation time in .NET ticks, which the client reads as a date', async () => {
    const { client } = await connected()
    const stream = streamName()
    const before = Date.now()
    await client.appendToStream(stream, event())
    const [read] = await readStream(client, stream)
    const created = read!.event!.created.getTime()
    expect(created).toBeGreaterThanOrEqual(before - 1)
    expect(created).toBeLessThanOrEqual(Date.now() + 1)
  })

  it('carries the event type, content type, data and metadata through', async () => {
    const { client } = await connected()
    const stream = streamName()
    await client.appendToStream(stream, {
      ...event('Charged', { kw: 5 }),
      metadata: { correlationId: 'c-1' },
    })
    const [read] = await readStream(client, stream)
    expect(read!.event).toMatchObject({
      streamId: stream,
      type: 'Charged',
      isJson: true,
      data: { kw: 5 },
      metadata: { correlationId: 'c-1' },
      revision: 0n,
    })
  })
})

describe('persistent subscriptions', () => {
  it('are advertised with the stream and all features, so the client uses gRPC for $all groups', async () => {
    const { client } = await connected()
    const path = '/event_store.client.persistent_subscriptions.PersistentSubscriptions/Create'
    expect(await supportedBy(client, path, 'stream')).toBe(true)
    expect(await supportedBy(client, path, 'all')).toBe(true)
  })
})
