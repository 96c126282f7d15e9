import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  BACKWARDS,
  END,
  EventStoreDBClient,
  excludeSystemEvents,
  type ResolvedEvent,
} from '@eventstore/db-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createDevStore, type DevStore } from 'annals/devstore'
import { CHECKPOINT_FILE, damageData, expectDataCorrupt, writtenDataDir } from './damaged-log.ts'
import { event } from './fixtures.ts'

// A record whose bytes were damaged on disk after it was written is never served. While the devstore runs,
// a read that reaches it from the file fails with DATA_CORRUPT naming the file and the offset (the client
// raises INTERNAL as UnknownError), after the events before it; other reads go on; the devstore logs it
// once. At open, every record of the log is checked, the part the index checkpoint covers included: one
// damaged there, with acknowledged records after it, refuses the open with DATA_CORRUPT and changes nothing.

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A devstore on `dataDir` with its log captured, and a client; both closed after the test. */
async function serve(
  dataDir: string,
): Promise<{ store: DevStore; client: EventStoreDBClient; logged: string[] }> {
  const logged: string[] = []
  const store = await createDevStore({
    dataDir,
    systemProjections: false,
    log: (message) => logged.push(message),
  })
  cleanups.push(() => store.close())
  const client = EventStoreDBClient.connectionString(store.connectionString)
  cleanups.push(() => client.dispose())
  return { store, client, logged }
}

/** The data of the events (system events aside) a read delivered before it ended, and its error. */
async function drain(read: AsyncIterable<ResolvedEvent>) {
  const delivered: unknown[] = []
  try {
    for await (const resolved of read)
      if (resolved.event?.type.startsWith('$') === false) delivered.push(resolved.event.data)
  } catch (error) {
    return { delivered, error: error as Error & Record<string, unknown> }
  }
  return { delivered, error: undefined }
}

describe('a record damaged on disk while the devstore serves the log', () => {
  it('fails a stream read with DATA_CORRUPT, naming the file and offset, after the events before it', async () => {
    const written = await writtenDataDir()
    const { client } = await serve(written.dataDir)
    await damageData(written.file, written.positions[1]!)
    const { delivered, error } = await drain(client.readStream(written.stream))
    expect(delivered).toEqual([{ n: 0 }])
    expectDataCorrupt(error, written.file, written.positions[1]!)
  })

  it('fails every read that reaches it again, never serving the damaged bytes', async () => {
    const written = await writtenDataDir()
    const { client } = await serve(written.dataDir)
    await damageData(written.file, written.positions[1]!)
    for (let attempt = 0; attempt < 3; attempt++) {
      const { delivered, error } = await drain(
        client.readStream(written.stream, { direction: BACKWARDS, fromRevision: END }),
      )
      expect(delivered).toEqual([{ n: 2 }])
      expectDataCorrupt(error, written.file, written.positions[1]!)
    }
  })

  it('delivers $all up to the damaged record, then fails, on a read and on a catch-up subscription', async () => {
    const written = await writtenDataDir()
    const { client } = await serve(written.dataDir)
    await damageData(written.file, written.positions[1]!)
    const read = await drain(client.readAll())
    expect(read.delivered).toEqual([{ n: 0 }])
    expectDataCorrupt(read.error, written.file, written.positions[1]!)
    const subscription = await drain(client.subscribeToAll({ filter: excludeSystemEvents() }))
    expect(subscription.delivered).toEqual([{ n: 0 }])
    expectDataCorrupt(subscription.error, written.file, written.positions[1]!)
  })

  it('keeps serving other streams, appends and subscriptions, and logs the damage once', async () => {
    const written = await writtenDataDir()
    const { client, logged } = await serve(written.dataDir)
    await damageData(written.file, written.positions[1]!)
    const live = client.subscribeToStream(written.other)
    for (let attempt = 0; attempt < 3; attempt++) await drain(client.readStream(written.stream))
    await client.appendToStream(written.other, event('Happened', { n: 2 }))
    const other = await drain(client.readStream(written.other))
    expect(other).toEqual({ delivered: [{ n: 0 }, { n: 1 }, { n: 2 }], error: undefined })
    const seen: unknown[] = []
    for await (const resolved of live) {
      seen.push(resolved.event?.data)
      if (seen.length === 3) break
    }
    expect(seen).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    const reports = logged.filter((line) => line.includes('DATA_CORRUPT'))
    expect(reports).toEqual([
      `devstore: DATA_CORRUPT: The devstore log ${written.file} has a damaged record at offset ` +
        `${written.positions[1]}: its bytes do not match its checksum, so it was not served`,
    ])
  })
})

describe('a record damaged inside the part of the log the index checkpoint covers', () => {
  it('makes the restart refuse with DATA_CORRUPT, naming the file and the offset, changing nothing', async () => {
    const written = await writtenDataDir()
    expect((await readFile(join(written.dataDir, CHECKPOINT_FILE))).length).toBeGreaterThan(0)
    await damageData(written.file, written.positions[1]!)
    const bytes = await readFile(written.file)
    const error = await createDevStore({ dataDir: written.dataDir, systemProjections: false }).then(
      (store) => store.close().then(() => expect.fail('the devstore opened a corrupt log')),
      (rejection: unknown) => rejection as Error & Record<string, unknown>,
    )
    expect(error).toMatchObject({
      code: 'DATA_CORRUPT',
      file: written.file,
      badOffset: Number(written.positions[1]),
      nextValidOffset: Number(written.positions[2]),
    })
    expect(error.message).toContain(`offset ${written.positions[1]}`)
    expect((await readFile(written.file)).equals(bytes)).toBe(true)
    // It released the directory: the same open fails the same way, not with DATA_DIR_LOCKED.
    await expect(
      createDevStore({ dataDir: written.dataDir, systemProjections: false }),
    ).rejects.toMatchObject({ code: 'DATA_CORRUPT' })
  })
})
