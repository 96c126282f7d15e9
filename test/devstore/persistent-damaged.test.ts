import { EventStoreDBClient } from '@eventstore/db-client'
import { afterEach, describe, expect, it } from 'vitest'
import { createDevStore } from 'annals/devstore'
import { damageData, expectDataCorrupt, writtenDataDir, type Written } from './damaged-log.ts'
import { event } from './fixtures.ts'
import { confirmed, Inbox, quickSettings } from './persistent-fixture.ts'

// A persistent subscription group whose reader reaches a record damaged on disk delivers the events before
// it, and once those are acked ends its consumers' calls with the error a catch-up read that reaches the
// record ends with (INTERNAL, "DATA_CORRUPT: ..."): it never goes silent. A consumer that joins again reads
// the record again and gets the same error. Other groups and streams go on; the devstore logs the damage once.

const cleanups: (() => Promise<void>)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** A devstore serving `written` with record 1 of its stream damaged, its log captured, and a client. */
async function serveDamaged(written: Written) {
  const logged: string[] = []
  const store = await createDevStore({
    dataDir: written.dataDir,
    systemProjections: false,
    log: (message) => logged.push(message),
  })
  cleanups.push(() => store.close())
  const client = EventStoreDBClient.connectionString(store.connectionString)
  cleanups.push(() => client.dispose())
  await damageData(written.file, written.positions[1]!)
  return { client, logged }
}

/** A group on `stream` from its start and a consumer of it; the consumer never acks unless the test does. */
async function joinGroup(client: EventStoreDBClient, stream: string, group = 'workers') {
  await client.createPersistentSubscriptionToStream(stream, group, quickSettings())
  return joinAgain(client, stream, group)
}

function joinAgain(client: EventStoreDBClient, stream: string, group = 'workers') {
  const subscription = client.subscribeToPersistentSubscriptionToStream(stream, group)
  cleanups.push(() => subscription.unsubscribe())
  return { subscription, inbox: new Inbox(subscription) }
}

const dataOf = (messages: { event?: { data: unknown } | undefined }[]) =>
  messages.map((message) => message.event?.data)

describe('a persistent subscription group whose reader reaches a damaged record', () => {
  it('delivers the events before it, then ends the consumer with DATA_CORRUPT once they are acked', async () => {
    const written = await writtenDataDir()
    const { client } = await serveDamaged(written)
    const { subscription, inbox } = await joinGroup(client, written.stream)
    const before = await inbox.take(1)
    expect(dataOf(before)).toEqual([{ n: 0 }])
    await subscription.ack(...before)
    expectDataCorrupt(await inbox.failure, written.file, written.positions[1]!)
    expect(inbox.waiting).toBe(0)
  })

  it('ends every connected consumer with the error, and a consumer that joins again gets it again', async () => {
    const written = await writtenDataDir()
    const { client } = await serveDamaged(written)
    const first = await joinGroup(client, written.stream)
    const second = joinAgain(client, written.stream)
    await Promise.all([confirmed(first.subscription), confirmed(second.subscription)])
    // Whichever consumer got the event before the damage acks it.
    const [holder, before] = await Promise.any(
      [first, second].map(({ subscription, inbox }) =>
        inbox.take(1).then((messages) => [subscription, messages] as const),
      ),
    )
    expect(dataOf(before)).toEqual([{ n: 0 }])
    await holder.ack(...before)
    for (const { inbox } of [first, second])
      expectDataCorrupt(await inbox.failure, written.file, written.positions[1]!)

    const again = joinAgain(client, written.stream)
    expectDataCorrupt(await again.inbox.failure, written.file, written.positions[1]!)
    expect(again.inbox.waiting).toBe(0)
  })

  it('keeps other groups and streams working, and logs the damage once', async () => {
    const written = await writtenDataDir()
    const { client, logged } = await serveDamaged(written)
    const damaged = await joinGroup(client, written.stream)
    await damaged.subscription.ack(...(await damaged.inbox.take(1)))
    expectDataCorrupt(await damaged.inbox.failure, written.file, written.positions[1]!)
    for (let attempt = 0; attempt < 2; attempt++) {
      const again = joinAgain(client, written.stream)
      expectDataCorrupt(await again.inbox.failure, written.file, written.positions[1]!)
    }

    const other = await joinGroup(client, written.other, 'others')
    await client.appendToStream(written.other, event('Happened', { n: 2 }))
    expect(dataOf(await other.inbox.take(3))).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }])
    const alongside = await joinGroup(client, written.stream, 'alongside')
    expect(dataOf(await alongside.inbox.take(1))).toEqual([{ n: 0 }])
    expect(logged.filter((line) => line.includes('DATA_CORRUPT'))).toEqual([
      `devstore: DATA_CORRUPT: The devstore log ${written.file} has a damaged record at offset ` +
        `${written.positions[1]}: its bytes do not match its checksum, so it was not served`,
    ])
  })
})
