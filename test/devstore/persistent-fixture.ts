import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  EventStoreDBClient,
  jsonEvent,
  persistentSubscriptionToStreamSettingsFromDefaults,
  type PersistentSubscriptionToAll,
  type PersistentSubscriptionToStream,
  type PersistentSubscriptionToStreamSettings,
  type PersistentSubscriptionToStreamResolvedEvent,
} from '@eventstore/db-client'
import { createDevStore, type DevStore } from '../../devstore/create-dev-store.ts'

/** A devstore with a connected client; file-backed when `onDisk`, so faults.restart() keeps the log. */
export interface StoreUnderTest {
  readonly store: DevStore
  readonly client: EventStoreDBClient
  stop(): Promise<void>
}

export async function startStore(
  options: { onDisk?: boolean; systemProjections?: boolean } = {},
): Promise<StoreUnderTest> {
  const dataDir = options.onDisk === true ? await mkdtemp(join(tmpdir(), 'annals-persistent-')) : undefined
  const store = await createDevStore({
    port: 0,
    systemProjections: options.systemProjections ?? true,
    ...(dataDir === undefined ? {} : { dataDir }),
  })
  const client = EventStoreDBClient.connectionString(store.connectionString)
  return {
    store,
    client,
    async stop() {
      await client.dispose()
      await store.close()
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** Short timeouts so retries, parking and checkpoints happen within a test's time. */
export const quickSettings = (changes: Partial<PersistentSubscriptionToStreamSettings> = {}) =>
  persistentSubscriptionToStreamSettingsFromDefaults({
    startFrom: 'start',
    messageTimeout: 300,
    checkPointAfter: 100,
    checkPointLowerBound: 1,
    checkPointUpperBound: 10,
    ...changes,
  })

/** Appends `count` events numbered from `from` to `stream`. */
export async function appendNumbered(client: EventStoreDBClient, stream: string, count: number, from = 0) {
  const events = Array.from({ length: count }, (_, index) =>
    jsonEvent({ type: 'Numbered', data: { n: from + index } }),
  )
  return client.appendToStream(stream, events)
}

type Delivered = PersistentSubscriptionToStreamResolvedEvent

/** Collects what a persistent subscription delivers, so a test can await the next few messages. */
export class Inbox {
  private readonly queue: Delivered[] = []
  private readonly waiters: (() => void)[] = []
  /** The error the subscription ends with (a restart ends it with UNAVAILABLE). */
  readonly failure: Promise<unknown>

  constructor(readonly subscription: PersistentSubscriptionToStream | PersistentSubscriptionToAll) {
    subscription.on('data', (event: Delivered) => {
      this.queue.push(event)
      for (const wake of this.waiters.splice(0)) wake()
    })
    this.failure = new Promise((resolve) => subscription.once('error', resolve))
  }

  /** The next `count` messages, in order; rejects after `timeoutMs`. */
  async take(count: number, timeoutMs = 5_000): Promise<Delivered[]> {
    const deadline = Date.now() + timeoutMs
    while (this.queue.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`expected ${count} messages, got ${this.queue.length}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
    return this.queue.splice(0, count)
  }

  /** How many messages arrived and were not taken. */
  get waiting(): number {
    return this.queue.length
  }
}

/** The `n` of a Numbered event. */
export const numberOf = (delivered: Delivered): number => (delivered.event?.data as { n: number }).n

/** Waits until `probe` returns a value `accept` takes (a checkpoint, a count), polling; rejects after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (accept(value)) return value
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value ${String(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Resolves once the subscription is confirmed by the server. */
export const confirmed = (subscription: PersistentSubscriptionToStream | PersistentSubscriptionToAll) =>
  new Promise<void>((resolve) => subscription.once('confirmation', () => resolve()))
