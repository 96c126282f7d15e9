import { randomUUID } from 'node:crypto'
import { EventStoreDBClient, jsonEvent } from '@eventstore/db-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDevStore, type DevStore } from '../../devstore/index.ts'
import { AnnalsError, StoreUnavailableError, StreamDeletedError } from '../errors.ts'
import type { EventStore, SubscriptionMessage } from './event-store.ts'
import { createEventStoreDbStore } from './eventstoredb-event-store.ts'

// What the contract suite cannot say about this adapter: its errors, its lifecycle, and the client under it.
let devStore: DevStore
let store: EventStore

beforeAll(async () => {
  devStore = await createDevStore({ port: 0 })
  store = createEventStoreDbStore(devStore.connectionString)
})
afterAll(async () => {
  await (store as EventStore | undefined)?.close()
  await (devStore as DevStore | undefined)?.close()
})

const event = (type = 'Happened') => ({ id: randomUUID(), type, data: { at: 1 } })
const streamName = () => `adapter-${randomUUID()}`

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  )
}

describe('createEventStoreDbStore', () => {
  it('throws StreamDeletedError on reads and appends of a tombstoned stream', async () => {
    const name = streamName()
    await store.appendToStream(name, [event()])
    const client = EventStoreDBClient.connectionString(devStore.connectionString)
    await client.tombstoneStream(name)
    await client.dispose()
    expect(await rejectionOf(store.appendToStream(name, [event()]))).toBeInstanceOf(StreamDeletedError)
    const read = (async () => {
      for await (const _ of store.readStream(name)) expect.fail('a tombstoned stream has no events')
    })()
    expect(await rejectionOf(read)).toMatchObject({ code: 'STREAM_DELETED', streamName: name })
  })

  it('throws StoreUnavailableError when an append fails as unavailable', async () => {
    devStore.faults.failNextAppends(1)
    const error = await rejectionOf(store.appendToStream(streamName(), [event()]))
    expect(error).toBeInstanceOf(StoreUnavailableError)
    expect((error as AnnalsError).cause).toBeDefined()
  })

  it('ends a subscription the store drops with StoreUnavailableError, so the consumer resubscribes', async () => {
    const seen: SubscriptionMessage['kind'][] = []
    const consume = (async () => {
      for await (const message of store.subscribeToAll({ fromPosition: await store.headPosition() })) {
        seen.push(message.kind)
        if (message.kind === 'caughtUp') devStore.faults.dropAllSubscriptions()
      }
    })()
    expect(await rejectionOf(consume)).toBeInstanceOf(StoreUnavailableError)
    expect(seen).toContain('caughtUp')
  })

  it('throws StoreUnavailableError when nothing listens at the address', async () => {
    const gone = await createDevStore({ port: 0 })
    await gone.close()
    const unreachable = createEventStoreDbStore(gone.connectionString)
    try {
      expect(await rejectionOf(unreachable.appendToStream(streamName(), [event()]))).toBeInstanceOf(
        StoreUnavailableError,
      )
      expect(await rejectionOf(unreachable.headPosition())).toBeInstanceOf(StoreUnavailableError)
    } finally {
      await unreachable.close()
    }
  })

  it('refuses a malformed connection string with BAD_CONFIG', () => {
    expect(() => createEventStoreDbStore('http://not-esdb')).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG' }),
    )
  })

  it('closes promptly after reads and subscriptions were left early', async () => {
    const own = createEventStoreDbStore(devStore.connectionString)
    const name = streamName()
    await own.appendToStream(
      name,
      Array.from({ length: 50 }, () => event()),
    )
    for await (const _ of own.readStream(name)) break
    for await (const _ of own.readAll({ fromPosition: 'start' })) break
    for await (const message of own.subscribeToAll({ fromPosition: 'start' }))
      if (message.kind === 'event') break
    await own.headPosition()
    const closed = own.close().then(() => 'closed')
    const late = new Promise((resolve) => setTimeout(resolve, 5_000, 'still open')).then(String)
    expect(await Promise.race([closed, late])).toBe('closed')
  })

  it('reads the last event of a stream thousands of times without the server closing the connection', async () => {
    // Leaving each read after its one event used to cancel the call: past 1,000 cancels the server sent GOAWAY.
    const name = streamName()
    await store.appendToStream(name, [event()])
    let next = 0
    const reader = async () => {
      while (next++ < 2_000) {
        let last: bigint | undefined
        for await (const read of store.readStream(name, { direction: 'backwards', maxCount: 1 })) {
          last = read.revision
          break
        }
        expect(last).toBe(0n)
      }
    }
    await Promise.all(Array.from({ length: 16 }, reader))
  })

  it('leaves a client it was given open on close', async () => {
    const client = EventStoreDBClient.connectionString(devStore.connectionString)
    const borrowed = createEventStoreDbStore({ client })
    await borrowed.close()
    const result = await client.appendToStream(streamName(), jsonEvent({ type: 'Happened', data: {} }))
    expect(result.success).toBe(true)
    await client.dispose()
  })
})
