import { randomUUID } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { EventStoreDBClient, jsonEvent, type Position } from '@eventstore/db-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startChildDevStore, type ChildDevStore } from './child-devstore.ts'

/** One acknowledged append: its events' ids, the revision of its last event, and that event's position. */
interface Acknowledged {
  readonly stream: string
  readonly ids: readonly string[]
  readonly lastRevision: bigint
  readonly position: Position
}

const ROUNDS = 3
const WRITERS = 4
const STREAMS_PER_WRITER = 3

let dataDir: string
let child: ChildDevStore | undefined

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'annals-crash-'))
})

afterAll(async () => {
  await child?.kill()
  await rm(dataDir, { recursive: true, force: true })
})

describe('a file-backed devstore killed with SIGKILL under an append storm', () => {
  it(
    'keeps every acknowledged event, with its revision and position, round after round',
    { timeout: 120_000 },
    async () => {
      const acknowledged: Acknowledged[] = []
      let attempted = 0
      for (let round = 0; round < ROUNDS; round++) {
        child = await startChildDevStore(dataDir)
        await verify(child.connectionString, acknowledged)
        const clients = Array.from({ length: WRITERS }, () =>
          EventStoreDBClient.connectionString(child!.connectionString),
        )
        // Each client connects (features, BatchAppend call) before the clock of the round starts.
        await Promise.all(clients.map((client) => client.readAll({ maxCount: 1 }).toArray()))
        let killed!: () => void
        const storming = { on: true, killed: new Promise<void>((resolve) => (killed = resolve)) }
        const writers = clients.map((client, writer) =>
          storm(client, `crash-${round}-${writer}`, storming, acknowledged, () => attempted++),
        )
        await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 900))
        await child.kill()
        storming.on = false
        killed()
        await Promise.all(writers)
        // A client whose server vanished may never settle its streams: abandon it rather than await it.
        for (const client of clients) void client.dispose().catch(() => undefined)
      }
      child = await startChildDevStore(dataDir)
      const lost = await verify(child.connectionString, acknowledged)
      console.log(
        `crash test: ${ROUNDS} SIGKILL rounds, ${attempted} appends attempted, ${acknowledged.length} acknowledged ` +
          `(${acknowledged.reduce((sum, ack) => sum + ack.ids.length, 0)} events), ${lost} lost`,
      )
      expect(acknowledged.length).toBeGreaterThan(0)
      expect(lost).toBe(0)
      await child.stop()
      child = undefined
    },
  )
})

/** Appends small batches to a few streams until the round ends; only successful replies are acknowledged. */
async function storm(
  client: EventStoreDBClient,
  prefix: string,
  storming: { readonly on: boolean; readonly killed: Promise<void> },
  acknowledged: Acknowledged[],
  attempt: () => void,
): Promise<void> {
  const streams = Array.from({ length: STREAMS_PER_WRITER }, (_, index) => `${prefix}-${index}`)
  for (let turn = 0; storming.on; turn++) {
    const stream = streams[turn % streams.length]!
    const ids = Array.from({ length: 1 + (turn % 4) }, () => randomUUID())
    attempt()
    try {
      const append = client.appendToStream(
        stream,
        ids.map((id) => jsonEvent({ id, type: 'Stormed', data: { turn } })),
      )
      append.catch(() => undefined)
      // An append still pending when the process dies is unacknowledged, whatever the client does later.
      const result = await Promise.race([append, storming.killed.then(() => undefined)])
      if (result === undefined) return
      acknowledged.push({
        stream,
        ids,
        lastRevision: result.nextExpectedRevision,
        position: result.position!,
      })
    } catch {
      return
    }
  }
}

/** Checks every acknowledged event and the streams' contiguity; also that $all reads and a subscription work. */
async function verify(connectionString: string, acknowledged: readonly Acknowledged[]): Promise<number> {
  const client = EventStoreDBClient.connectionString(connectionString)
  try {
    const streams = new Map<string, { id: string; revision: bigint; position: bigint }[]>()
    for (const stream of new Set(acknowledged.map((ack) => ack.stream))) {
      const read: { id: string; revision: bigint; position: bigint }[] = []
      for await (const resolved of client.readStream(stream)) {
        read.push({
          id: resolved.event!.id,
          revision: resolved.event!.revision,
          position: resolved.event!.position!.commit,
        })
      }
      expect(read.map((event) => event.revision)).toEqual(read.map((_, index) => BigInt(index)))
      streams.set(stream, read)
    }
    let lost = 0
    for (const ack of acknowledged) {
      const read = streams.get(ack.stream) ?? []
      const first = Number(ack.lastRevision) - ack.ids.length + 1
      const stored = read.slice(first, first + ack.ids.length)
      const intact =
        stored.length === ack.ids.length &&
        stored.every((event, index) => event.id === ack.ids[index]) &&
        stored.at(-1)!.position === ack.position.commit
      if (!intact) lost++
    }
    let inAll = 0
    for await (const _ of client.readAll({ maxCount: 10 })) inAll++
    expect(inAll).toBeGreaterThan(0)
    const subscription = client.subscribeToAll()
    // Flowing, so the client keeps reading until caught_up arrives.
    subscription.on('data', () => undefined)
    await once(subscription, 'caughtUp')
    await subscription.unsubscribe()
    return lost
  } finally {
    // Disposing waits for every stream to finish; after a failed assertion one may never do so.
    await Promise.race([client.dispose(), new Promise((resolve) => setTimeout(resolve, 2_000))])
  }
}
