import { once } from 'node:events'
import { CancelledError, jsonEvent } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, streamName } from './fixtures.ts'

// What a client sees of the devstore stopping under its streaming calls: what EventStoreDB's client tests
// see of a node stopped gracefully (CancelledError), not a dropped connection (UnavailableError).

describe('a devstore stopped under a streaming call', () => {
  it('ends a read in the middle with CancelledError, after the events it sent', async () => {
    const { client, store } = await connected()
    const stream = streamName()
    const note = 'x'.repeat(1000)
    for (let batch = 0; batch < 5; batch++) {
      const events = Array.from({ length: 200 }, (_, index) =>
        jsonEvent({ type: 'Read', data: { index, note } }),
      )
      await client.appendToStream(stream, events)
    }
    const read = client.readStream(stream)
    const iterator = read[Symbol.asyncIterator]()
    // The first event is in: the call is open, with more than the client has taken still to come.
    await iterator.next()
    const closed = store.close()
    let received = 1
    const error = await (async () => {
      try {
        while (!(await iterator.next()).done) received++
      } catch (caught) {
        return caught
      }
      return undefined
    })()
    await closed
    expect(error).toBeInstanceOf(CancelledError)
    expect(received).toBeLessThan(1000)
  })

  it('ends an open subscription with CancelledError', async () => {
    const { client, store } = await connected()
    const subscription = client.subscribeToAll()
    subscription.on('data', () => undefined)
    await once(subscription, 'caughtUp')
    const ended = once(subscription, 'error')
    await store.close()
    const [error] = (await ended) as [unknown]
    expect(error).toBeInstanceOf(CancelledError)
  })
})
