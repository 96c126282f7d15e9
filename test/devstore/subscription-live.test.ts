import { once } from 'node:events'
import { streamNameFilter } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, events, readAll, streamName } from './fixtures.ts'

// $all as EventStoreDB without projections holds it: no link events among the events counted.
const withoutProjections = { systemProjections: false }

// A live filtered subscription read by a slow consumer, under batches larger than the call's write buffer
// (~16 messages): it keeps up through its live queue rather than falling back to catching up per batch.

const BATCHES = 4
const BATCH = 200

describe('a live filtered subscription to $all', () => {
  it('sends checkpoints by its interval and caughtUp once to a consumer slower than the writers', async () => {
    const { client, connect } = await connected(withoutProjections)
    const writer = connect()
    const prefix = streamName('live')
    let checkpoints = 0
    const subscription = client.subscribeToAll({
      filter: streamNameFilter({
        prefixes: [prefix],
        // 2 x the 32-event window: a checkpoint every 64 events considered.
        checkpointInterval: 2,
        checkpointReached: () => void checkpoints++,
      }),
    })
    let caughtUp = 0
    let before = 0
    subscription.on('caughtUp', () => {
      if (caughtUp++ > 0) return
      before = checkpoints
      void (async () => {
        const note = 'x'.repeat(500)
        for (let batch = 0; batch < BATCHES; batch++) {
          const batchEvents = Array.from({ length: BATCH }, (_, index) => event('Live', { index, note }))
          await writer.appendToStream(`${prefix}-${batch}`, batchEvents)
        }
      })()
    })
    let received = 0
    // Each event is handled a turn of the event loop later: the client reads slower than the server writes.
    for await (const _ of subscription) {
      await new Promise((resolve) => setImmediate(resolve))
      if (++received === BATCHES * BATCH) break
    }
    // 800 live events considered make 12 interval checkpoints, and none is sent on the way.
    expect(checkpoints - before).toBe(Math.floor((BATCHES * BATCH) / 64))
    expect(caughtUp).toBe(1)
  })

  it('sends no second checkpoint at the same position when its catch-up ends on an interval', async () => {
    const { client } = await connected(withoutProjections)
    const prefix = streamName('edge')
    const systemEvents = (await readAll(client)).length
    // With the system events, the catch-up considers exactly 64 events: one interval.
    await client.appendToStream(prefix, events(64 - systemEvents))
    const positions: bigint[] = []
    const subscription = client.subscribeToAll({
      filter: streamNameFilter({
        prefixes: [prefix],
        checkpointInterval: 2,
        checkpointReached: (_, position) => void positions.push(position.commit),
      }),
    })
    // Flowing, so the client reads on until caught_up arrives.
    subscription.on('data', () => undefined)
    await once(subscription, 'caughtUp')
    await subscription.unsubscribe()
    expect(positions).toHaveLength(1)
  })
})
