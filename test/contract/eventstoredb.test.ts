import { createEventStoreDbStore } from '../../framework/event-store/eventstoredb-event-store.ts'
import { eventStoreContract } from './event-store-contract.ts'

// A real EventStoreDB (or KurrentDB) is outside the repository; point EVENTSTORE_URL at one to run this.
const url = process.env.EVENTSTORE_URL

eventStoreContract(url ? `EventStoreDB at ${url}` : 'EventStoreDB', {
  ...(url ? {} : { skip: 'EVENTSTORE_URL is not set' }),
  create: () => {
    const store = createEventStoreDbStore(url ?? '')
    return Promise.resolve({ store, cleanup: () => store.close() })
  },
})
