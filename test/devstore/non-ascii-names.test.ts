import {
  EventStoreDBClient,
  PersistentSubscriptionExistsError,
  StreamDeletedError,
  persistentSubscriptionToStreamSettingsFromDefaults,
} from '@eventstore/db-client'
import { describe, expect, it } from 'vitest'
import { startChildDevStore } from './child-devstore.ts'
import { connected, event, failure, readStream, temporaryDataDir } from './fixtures.ts'

// Stream and group names that are not ASCII, in the errors that carry them in gRPC trailers.

const stream = 'café-☕-Łódź'
const encoded = 'caf%C3%A9-%E2%98%95-%C5%81%C3%B3d%C5%BA'

describe('a name that is not ASCII in an error', () => {
  it('reaches the client as its typed error, the name percent-encoded', async () => {
    const { client } = await connected()
    const settings = persistentSubscriptionToStreamSettingsFromDefaults()
    await client.createPersistentSubscriptionToStream(stream, 'groupe-été', settings)
    const exists = await failure(client.createPersistentSubscriptionToStream(stream, 'groupe-été', settings))
    expect(exists).toBeInstanceOf(PersistentSubscriptionExistsError)
    expect(exists).toMatchObject({ streamName: encoded, groupName: 'groupe-%C3%A9t%C3%A9' })
    await client.tombstoneStream(stream)
    const deleted = await failure(readStream(client, stream))
    expect(deleted).toBeInstanceOf(StreamDeletedError)
    expect(deleted).toMatchObject({ streamName: encoded })
  })

  it('lets a devstore holding such a group stop on SIGTERM', async () => {
    const child = await startChildDevStore(await temporaryDataDir())
    const client = EventStoreDBClient.connectionString(child.connectionString)
    try {
      await client.appendToStream(stream, event())
      await client.createPersistentSubscriptionToStream(
        stream,
        'groupe-été',
        persistentSubscriptionToStreamSettingsFromDefaults(),
      )
    } finally {
      await client.dispose()
    }
    // Bounded: a devstore that does not stop in time is killed, and the test fails.
    const stopped = await Promise.race([
      child.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(resolve, 10_000, 'still running')),
    ])
    if (stopped !== 'stopped') await child.kill()
    expect(stopped).toBe('stopped')
    expect(child.process.exitCode).toBe(0)
  })
})
