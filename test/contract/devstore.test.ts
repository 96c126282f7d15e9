import { createDevStore } from '../../devstore/index.ts'
import { createEventStoreDbStore } from '../../framework/event-store/eventstoredb-event-store.ts'
import { eventStoreContract } from './event-store-contract.ts'

// The devstore as the framework uses it in development: over loopback gRPC through the EventStoreDB adapter.
eventStoreContract('devstore through the EventStoreDB adapter', {
  create: async () => {
    const devStore = await createDevStore({ port: 0 })
    const store = createEventStoreDbStore(devStore.connectionString)
    return {
      store,
      cleanup: async () => {
        await store.close()
        await devStore.close()
      },
    }
  },
})
