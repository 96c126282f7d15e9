import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { jsonEvent, EventStoreDBClient } from '@eventstore/db-client'
import { afterEach, describe, expect, it } from 'vitest'
import { startDevStoreThread, type DevStoreThread } from './index.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'annals-devstore-thread-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function started(options: { dataDir?: string } = {}): Promise<DevStoreThread> {
  const devstore = await startDevStoreThread(options)
  cleanups.push(() => devstore.close())
  return devstore
}

async function typesIn(connectionString: string, stream: string): Promise<string[]> {
  const client = EventStoreDBClient.connectionString(connectionString)
  try {
    const types: string[] = []
    for await (const resolved of client.readStream(stream)) types.push(resolved.event!.type)
    return types
  } finally {
    await client.dispose()
  }
}

// A client on a thread of its own: it appends when told to and reports when each append was answered.
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads')
const { EventStoreDBClient, jsonEvent } = require('@eventstore/db-client')
const client = EventStoreDBClient.connectionString(workerData)
const append = () => client.appendToStream('probe', jsonEvent({ type: 'Probed', data: {} }))
append().then(() => parentPort.postMessage('connected'))
parentPort.once('message', async () => {
  const answeredAt = []
  for (let i = 0; i < 10; i++) { await append(); answeredAt.push(Date.now()) }
  parentPort.postMessage(answeredAt)
  await client.dispose()
})
`

describe('startDevStoreThread', () => {
  it("serves from a thread of its own: appends are answered while the starting thread's event loop is blocked", async () => {
    const devstore = await started()
    const client = new Worker(CLIENT, { eval: true, workerData: devstore.connectionString })
    cleanups.push(() => client.terminate().then(() => undefined))
    await once(client, 'message')
    const answers = once(client, 'message') as Promise<[number[]]>
    client.postMessage('go')
    // This thread runs nothing for a second: a devstore on it could not answer meanwhile.
    const blockedUntil = Date.now() + 1_000
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1_000)
    const [answeredAt] = await answers
    expect(answeredAt).toHaveLength(10)
    expect(Math.max(...answeredAt)).toBeLessThan(blockedUntil)
  })

  it('keeps its log on disk: a thread started on the same directory after close reads what the first wrote', async () => {
    const dataDir = await tempDir()
    const first = await startDevStoreThread({ dataDir })
    const client = EventStoreDBClient.connectionString(first.connectionString)
    await client.appendToStream('kept', jsonEvent({ id: randomUUID(), type: 'Kept', data: { n: 1 } }))
    await client.dispose()
    await first.close()
    // The first thread let go of the directory's lock: a devstore still holding it would refuse this one.
    const second = await started({ dataDir })
    expect(await typesIn(second.connectionString, 'kept')).toEqual(['Kept'])
  })

  it('stops serving once closed', async () => {
    const devstore = await startDevStoreThread()
    await devstore.close()
    const client = EventStoreDBClient.connectionString(`${devstore.connectionString}&defaultDeadline=2000`)
    await expect(client.appendToStream('late', jsonEvent({ type: 'Late', data: {} }))).rejects.toThrow()
    await client.dispose()
  })

  it("rejects the start with the devstore's own error when it cannot open its directory", async () => {
    const dir = await tempDir()
    const notADirectory = join(dir, 'a-file')
    await writeFile(notADirectory, 'not a directory')
    await expect(startDevStoreThread({ dataDir: notADirectory })).rejects.toThrow(/EEXIST|ENOTDIR/)
  })
})
