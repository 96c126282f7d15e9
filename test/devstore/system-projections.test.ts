import {
  jsonEvent,
  NotFoundError,
  persistentSubscriptionToStreamSettingsFromDefaults,
  UnknownError,
  type EventStoreDBClient,
  type ResolvedEvent,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { Inbox } from './persistent-fixture.ts'
import {
  connected,
  event,
  events,
  failure,
  readStream,
  retryUnavailable,
  temporaryDataDir,
} from './fixtures.ts'

// The system projections write link events as EventStoreDB's do, after the events they point to; a test
// waits for them by subscribing to the stream they land in, never by sleeping.

/** The first `count` events of `stream` as a subscription with resolveLinkTos delivers them. */
async function linksOf(client: EventStoreDBClient, stream: string, count: number): Promise<ResolvedEvent[]> {
  const received: ResolvedEvent[] = []
  const subscription = client.subscribeToStream(stream, { resolveLinkTos: true })
  for await (const resolved of subscription) {
    received.push(resolved)
    if (received.length === count) break
  }
  return received
}

const category = () => `order${Math.random().toString(36).slice(2, 8)}`

describe('$by_category', () => {
  it('links every event of a category into $ce-<category>, resolved to the events in order', async () => {
    const { client } = await connected()
    const orders = category()
    await client.appendToStream(`${orders}-1`, events(2, 'Placed'))
    await client.appendToStream(`${orders}-2`, event('Placed'))
    await client.appendToStream(`${orders}-1`, event('Shipped'))
    const links = await linksOf(client, `$ce-${orders}`, 4)
    expect(links.map((resolved) => `${resolved.event!.streamId}@${resolved.event!.revision}`)).toEqual([
      `${orders}-1@0`,
      `${orders}-1@1`,
      `${orders}-2@0`,
      `${orders}-1@2`,
    ])
    expect(links.map((resolved) => resolved.event!.type)).toEqual(['Placed', 'Placed', 'Placed', 'Shipped'])
    const link = links[0]!.link!
    expect(link).toMatchObject({ type: '$>', streamId: `$ce-${orders}`, revision: 0n, isJson: false })
    expect(Buffer.from(link.data).toString()).toBe(`0@${orders}-1`)
    expect(link.metadata).toMatchObject({ $o: `${orders}-1`, $causedBy: links[0]!.event!.id })
  })

  it('reads back unresolved as the link events themselves', async () => {
    const { client } = await connected()
    const orders = category()
    await client.appendToStream(`${orders}-1`, event('Placed'))
    await linksOf(client, `$ce-${orders}`, 1)
    const [read] = await readStream(client, `$ce-${orders}`)
    expect(read!.event).toMatchObject({ type: '$>', streamId: `$ce-${orders}` })
    expect(read!.link).toBeUndefined()
  })
})

describe('$by_event_type, $streams and $stream_by_category', () => {
  it('links events by type into $et-<type>, and first events into $streams and $category-<category>', async () => {
    const { client } = await connected()
    const orders = category()
    const type = `Placed${orders}`
    await client.appendToStream(`${orders}-1`, [event(type), event(type)])
    await client.appendToStream(`${orders}-2`, event(type))
    const byType = await linksOf(client, `$et-${type}`, 3)
    expect(byType.map((resolved) => resolved.event!.streamId)).toEqual([
      `${orders}-1`,
      `${orders}-1`,
      `${orders}-2`,
    ])
    const streams = await linksOf(client, `$category-${orders}`, 2)
    expect(streams.map((resolved) => resolved.event)).toMatchObject([{ type: '$@' }, { type: '$@' }])
    expect(streams.map((resolved) => Buffer.from(resolved.event!.data as Uint8Array).toString())).toEqual([
      `${orders}-1`,
      `${orders}-2`,
    ])
    const all: string[] = []
    for await (const resolved of client.subscribeToStream('$streams', { resolveLinkTos: true })) {
      all.push(resolved.event!.streamId)
      if (all.includes(`${orders}-2`)) break
    }
    expect(all.filter((stream) => stream.startsWith(orders))).toEqual([`${orders}-1`, `${orders}-2`])
  })
})

describe('a persistent subscription to a $ce- stream', () => {
  it('delivers the events its links resolve to, with the links', async () => {
    const { client } = await connected()
    const orders = category()
    await client.createPersistentSubscriptionToStream(
      `$ce-${orders}`,
      'shipping',
      persistentSubscriptionToStreamSettingsFromDefaults({ startFrom: 'start', resolveLinkTos: true }),
    )
    const inbox = new Inbox(client.subscribeToPersistentSubscriptionToStream(`$ce-${orders}`, 'shipping'))
    await client.appendToStream(`${orders}-7`, events(2, 'Placed'))
    const delivered = await inbox.take(2)
    expect(delivered.map((resolved) => resolved.event?.streamId)).toEqual([`${orders}-7`, `${orders}-7`])
    expect(delivered.map((resolved) => resolved.link?.streamId)).toEqual([`$ce-${orders}`, `$ce-${orders}`])
  })
})

describe('the Projections service', () => {
  it('lists the system projections, running', async () => {
    const { client } = await connected()
    const listed = await client.listProjections()
    expect(listed.map((details) => details.name).sort()).toEqual([
      '$by_category',
      '$by_correlation_id',
      '$by_event_type',
      '$stream_by_category',
      '$streams',
    ])
    expect(listed.every((details) => details.status === 'Running')).toBe(true)
  })

  it('stops a disabled projection and catches it up once enabled again', async () => {
    const { client } = await connected()
    const orders = category()
    await client.disableProjection('$by_category')
    expect(await client.getProjectionStatus('$by_category')).toMatchObject({ projectionStatus: 'Stopped' })
    await client.appendToStream(`${orders}-1`, event('Placed'))
    // A later projection's link shows the event was seen; the disabled one has written nothing for it.
    await linksOf(client, `$et-Placed`, 1)
    expect(await failure(readStream(client, `$ce-${orders}`))).toMatchObject({ type: 'stream-not-found' })
    await client.enableProjection('$by_category')
    expect((await client.getProjectionStatus('$by_category')).projectionStatus).toBe('Running')
    expect((await linksOf(client, `$ce-${orders}`, 1))[0]!.event!.streamId).toBe(`${orders}-1`)
  })

  it('answers the state of a system projection as an empty object', async () => {
    const { client } = await connected()
    expect(await client.getProjectionState('$by_category')).toEqual({})
  })

  it('answers the result of a system projection as an empty object', async () => {
    const { client } = await connected()
    expect(await client.getProjectionResult('$by_category')).toEqual({})
  })

  it('refuses to update a system projection, naming what is supported', async () => {
    const { client } = await connected()
    const error = await failure(client.updateProjection('$by_category', 'fromAll().when({})'))
    expect(error.message).toContain('9 FAILED_PRECONDITION')
    expect(error.message).toContain('Updating a system projection is not supported')
  })

  it('writes a reset projection’s streams anew, each link once', async () => {
    const { client } = await connected()
    const orders = category()
    await client.appendToStream(`${orders}-1`, events(2))
    await linksOf(client, `$ce-${orders}`, 2)
    await client.resetProjection('$by_category')
    await client.appendToStream(`${orders}-1`, event())
    const links = await linksOf(client, `$ce-${orders}`, 3)
    expect(links.map((resolved) => resolved.event!.revision)).toEqual([0n, 1n, 2n])
    expect((await readStream(client, `$ce-${orders}`)).map((resolved) => resolved.event!.revision)).toEqual([
      2n,
      3n,
      4n,
    ])
  })

  it('refuses a user-defined projection, naming what is supported', async () => {
    const { client } = await connected()
    const error = await failure(client.createProjection('counter', 'fromAll().when({})'))
    expect(error).toBeInstanceOf(UnknownError)
    expect(error.message).toContain('12 UNIMPLEMENTED')
    expect(error.message).toContain('$by_category')
  })

  it('answers NotFoundError for a projection it does not have', async () => {
    const { client } = await connected()
    expect(await failure(client.getProjectionStatus('counter'))).toBeInstanceOf(NotFoundError)
    expect(await failure(client.enableProjection('counter'))).toBeInstanceOf(NotFoundError)
    expect(await failure(client.getProjectionResult('counter'))).toBeInstanceOf(NotFoundError)
  })
})

describe('system projections across a restart', () => {
  it('resume from a checkpoint older than their links and write no link twice', async () => {
    const { client, store } = await connected({ dataDir: await temporaryDataDir() })
    const orders = category()
    await client.appendToStream(`${orders}-1`, events(3))
    await linksOf(client, `$ce-${orders}`, 3)
    // What a crash between writing links and their checkpoint leaves: a checkpoint from before them.
    await client.appendToStream(
      '$projections-$by_category-checkpoint',
      jsonEvent({ type: '$ProjectionCheckpoint', data: { $c: -1, $p: -1, enabled: true } }),
    )
    await store.faults.restart()
    await retryUnavailable(() => client.appendToStream(`${orders}-1`, event()))
    await linksOf(client, `$ce-${orders}`, 4)
    const links = await readStream(client, `$ce-${orders}`)
    expect(links.map((resolved) => Buffer.from(resolved.event!.data as Uint8Array).toString())).toEqual([
      `0@${orders}-1`,
      `1@${orders}-1`,
      `2@${orders}-1`,
      `3@${orders}-1`,
    ])
  })
})
