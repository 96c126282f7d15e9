import { afterEach, describe, expect, it } from 'vitest'
import { AnnalsError, createEventStoreDbStore, type EventStore } from 'annals'
import { createDevStore } from 'annals/devstore'
import { damageData, writtenDataDir } from './damaged-log.ts'

// The framework's EventStoreDB adapter raises DATA_CORRUPT, not INTERNAL, when the devstore ends a read at a
// record damaged on disk, so a projection or a command load fails with a code an operator can look up.

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function collect(read: AsyncIterable<{ data: unknown }>) {
  const delivered: unknown[] = []
  try {
    for await (const event of read) delivered.push(event.data)
  } catch (error) {
    return { delivered, error }
  }
  return { delivered, error: undefined }
}

describe('the EventStoreDB adapter over a devstore whose log was damaged on disk', () => {
  it('raises DATA_CORRUPT naming the file and offset, after the events before the damage', async () => {
    const written = await writtenDataDir()
    const devstore = await createDevStore({
      dataDir: written.dataDir,
      systemProjections: false,
      log: () => {},
    })
    cleanups.push(() => devstore.close())
    const store: EventStore = createEventStoreDbStore(devstore.connectionString)
    cleanups.push(() => store.close())
    await damageData(written.file, written.positions[1]!)

    for (const read of [store.readStream(written.stream), store.readAll()]) {
      const { delivered, error } = await collect(read)
      expect(delivered).toEqual([{ n: 0 }])
      expect(error).toBeInstanceOf(AnnalsError)
      expect(error).toMatchObject({ code: 'DATA_CORRUPT' })
      expect((error as Error).message).toContain(
        `The devstore log ${written.file} has a damaged record at offset ${written.positions[1]}`,
      )
    }
    expect(await collect(store.readStream(written.other))).toEqual({
      delivered: [{ n: 0 }, { n: 1 }],
      error: undefined,
    })
  })
})
