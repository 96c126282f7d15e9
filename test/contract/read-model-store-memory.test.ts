import { createInMemoryReadModels } from '../../projections/read-models/read-model-database.ts'
import { readModelStoreContract, units, type UnitRow } from './read-model-store-contract.ts'

readModelStoreContract('memory', () => {
  const store = createInMemoryReadModels().store<UnitRow>(units)
  // Memory outlives nothing but the object: the next "process" over it is the same store.
  return Promise.resolve({ store, reopen: () => store, close: () => Promise.resolve() })
})
