import { afterAll, beforeAll, describe } from 'vitest'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import { appendContract } from './contract-appends.ts'
import type { StoreUnderTest } from './contract-builders.ts'
import { readContract } from './contract-reads.ts'
import { subscriptionContract } from './contract-subscriptions.ts'

export type { StoreUnderTest } from './contract-builders.ts'

/**
 * The one contract every EventStore adapter passes: the in-memory store, the devstore through the
 * EventStoreDB adapter, and a real EventStoreDB. One store serves the whole suite; each test writes to
 * streams and event types of its own and reads from positions it took, so tests also hold on a store
 * with history (a shared EventStoreDB) and do not depend on each other.
 *
 * @example
 * eventStoreContract('in-memory', { create: async () => ({ store: createInMemoryEventStore(), cleanup: async () => {} }) })
 */
export function eventStoreContract(
  name: string,
  options: {
    readonly create: () => Promise<StoreUnderTest>
    /** Why the store cannot run here: every test of the contract is then listed as skipped, under this reason. */
    readonly skip?: string
  },
): void {
  const title = `EventStore contract: ${name}${options.skip ? ` (skipped: ${options.skip})` : ''}`
  describe.skipIf(options.skip !== undefined)(title, () => {
    let underTest: StoreUnderTest | undefined
    beforeAll(async () => {
      underTest = await options.create()
    })
    afterAll(async () => {
      await underTest?.cleanup()
    })
    const getStore = (): EventStore => {
      if (!underTest) throw new Error(`The ${name} store was not created`)
      return underTest.store
    }
    appendContract(getStore)
    readContract(getStore)
    subscriptionContract(getStore)
  })
}
