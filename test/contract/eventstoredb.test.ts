import { describe, it } from 'vitest'
import { createEventStoreDbStore } from '../../framework/event-store/eventstoredb-event-store.ts'
import { eventStoreContract } from './event-store-contract.ts'

// A real EventStoreDB (or KurrentDB) is outside the repository; point EVENTSTORE_URL at one to run this.
const url = process.env.EVENTSTORE_URL

if (url) {
  eventStoreContract(`EventStoreDB at ${url}`, {
    create: () => {
      const store = createEventStoreDbStore(url)
      return Promise.resolve({ store, cleanup: () => store.close() })
    },
  })
} else {
  console.log('Skipping the EventStoreDB contract run: EVENTSTORE_URL is not set')
  describe.skip('EventStore contract: EventStoreDB (EVENTSTORE_URL is not set)', () => {
    it('passes the EventStore contract against a real EventStoreDB', () => {})
  })
}
