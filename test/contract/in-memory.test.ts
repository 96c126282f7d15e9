import { createInMemoryEventStore } from '../../framework/event-store/in-memory-event-store.ts'
import { eventStoreContract } from './event-store-contract.ts'

eventStoreContract('in-memory', {
  create: () => {
    const store = createInMemoryEventStore()
    return Promise.resolve({ store, cleanup: () => store.close() })
  },
})
