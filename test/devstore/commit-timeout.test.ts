import { DeadlineExceededError, TimeoutError } from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { connected, event, failure, readStream, streamName } from './fixtures.ts'

// The commit timeout (EventStoreDB's EVENTSTORE_COMMIT_TIMEOUT_MS), so a client's timeout path can be tested:
// a commit held back past it (faults.delayCommits) is answered as timed out, and the write still lands.

const credentials = { username: 'admin', password: 'changeit' }

describe('the commit timeout', () => {
  it('answers a BatchAppend that commits too late with DeadlineExceededError, and the events land', async () => {
    const { client, store } = await connected({ commitTimeoutMs: 50 })
    const stream = streamName()
    store.faults.delayCommits(5_000)
    expect(await failure(client.appendToStream(stream, event()))).toBeInstanceOf(DeadlineExceededError)
    store.faults.delayCommits(0)
    expect(await readStream(client, stream)).toHaveLength(1)
  })

  it('answers an Append, a delete and a tombstone that commit too late with TimeoutError', async () => {
    const { client, store } = await connected({ commitTimeoutMs: 50 })
    const stream = streamName()
    await client.appendToStream(stream, event())
    store.faults.delayCommits(5_000)
    // Per-call credentials make the client use the unary Append.
    expect(await failure(client.appendToStream(stream, event(), { credentials }))).toBeInstanceOf(
      TimeoutError,
    )
    expect(await failure(client.deleteStream(stream))).toBeInstanceOf(TimeoutError)
    expect(await failure(client.tombstoneStream(streamName()))).toBeInstanceOf(TimeoutError)
  })

  it('lets a commit within the timeout through', async () => {
    const { client, store } = await connected({ commitTimeoutMs: 5_000 })
    store.faults.delayCommits(20)
    await client.appendToStream(streamName(), event())
  })
})
