/**
 * Builders for tests of a log damaged on disk: a data directory written by a real devstore through the
 * client, a bit flipped in one record's data, and the error a read that reaches it ends with.
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { EventStoreDBClient } from '@eventstore/db-client'
import { expect } from 'vitest'
import { createDevStore } from 'annals/devstore'
import { event, streamName, temporaryDataDir } from './fixtures.ts'

export const LOG_FILE = 'devstore.log'
export const CHECKPOINT_FILE = 'devstore.index'

export interface Written {
  readonly dataDir: string
  readonly file: string
  /** Three events {n: 0..2}, appended one by one, and their positions. */
  readonly stream: string
  readonly positions: readonly bigint[]
  /** Two events appended after them, to another stream. */
  readonly other: string
}

/** A data directory written by a real devstore through the client, closed cleanly (so checkpointed). */
// Without system projections, so the records next to a damaged one are the events written here.
export async function writtenDataDir(): Promise<Written> {
  const dataDir = await temporaryDataDir()
  const store = await createDevStore({ dataDir, systemProjections: false })
  const client = EventStoreDBClient.connectionString(store.connectionString)
  const stream = streamName('damaged')
  const other = streamName('intact')
  const positions: bigint[] = []
  try {
    for (let n = 0; n < 3; n++) {
      const result = await client.appendToStream(stream, event('Happened', { n }))
      positions.push(result.position!.commit)
    }
    await client.appendToStream(other, [event('Happened', { n: 0 }), event('Happened', { n: 1 })])
  } finally {
    await client.dispose()
    await store.close()
  }
  return { dataDir, file: join(dataDir, LOG_FILE), stream, positions, other }
}

/** Flips one bit of the digit in the data of the record at `position`, in place: {"n":1} now reads {"n":0}. */
export async function damageData(file: string, position: bigint): Promise<number> {
  const handle = await open(file, 'r+')
  try {
    const header = Buffer.alloc(40)
    await handle.read(header, 0, 40, Number(position))
    const dataAt =
      Number(position) + 40 + header.readUInt16LE(10) + header.readUInt16LE(12) + header.readUInt8(14)
    const data = Buffer.alloc(7)
    await handle.read(data, 0, 7, dataAt)
    expect(data.toString()).toMatch(/^\{"n":\d\}$/)
    await handle.write(Buffer.from([data[5]! ^ 0x01]), 0, 1, dataAt + 5)
    return dataAt + 5
  } finally {
    await handle.close()
  }
}

/** The client's error for a call the devstore ended with DATA_CORRUPT at `offset` of `file`. */
export function expectDataCorrupt(error: unknown, file: string, offset: bigint): void {
  expect(error).toBeDefined()
  const failure = error as Error & Record<string, unknown>
  expect(failure.constructor.name).toBe('UnknownError')
  expect(failure.code).toBe(13)
  expect(failure.message).toContain(
    `DATA_CORRUPT: The devstore log ${file} has a damaged record at offset ${offset}`,
  )
}
