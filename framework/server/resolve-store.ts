import { createEventStoreDbStore } from '../event-store/eventstoredb-event-store.ts'
import type { EventStore } from '../event-store/event-store.ts'

/** What createServer was given as its store: an adapter, or a connection string. */
export type StoreOption = EventStore | string

export interface ResolvedStore {
  readonly store: EventStore
  /** Where it came from, for the start-up log (never with credentials). */
  readonly description: string
  /** What it is: a devstore in this process, EventStoreDB (or KurrentDB) by URL, or the store passed in. */
  readonly kind: 'devstore' | 'eventstoredb' | 'given'
  /** Closes what createServer opened; a store passed in is left to its owner. */
  close(): Promise<void>
}

/**
 * The store to run on: the one given; else a connection string (given, or EVENTSTORE_URL); else an
 * in-process devstore, imported only then so applications on EventStoreDB never load it.
 */
export async function resolveStore(
  option: StoreOption | undefined,
  config: { readonly eventStoreUrl: string | undefined; readonly dataDir: string | undefined },
): Promise<ResolvedStore> {
  if (option !== undefined && typeof option !== 'string') {
    return {
      store: option,
      description: 'the store passed to createServer',
      kind: 'given',
      close: () => Promise.resolve(),
    }
  }
  const url = option ?? config.eventStoreUrl
  if (url !== undefined) {
    const store = createEventStoreDbStore(url)
    return {
      store,
      description: `EventStoreDB at ${redact(url)}`,
      kind: 'eventstoredb',
      close: () => store.close(),
    }
  }
  const { createDevStore } = await import('../../devstore/index.ts')
  const devstore = await createDevStore(config.dataDir === undefined ? {} : { dataDir: config.dataDir })
  const store = createEventStoreDbStore(devstore.connectionString)
  return {
    store,
    kind: 'devstore',
    description: `an in-process devstore on port ${devstore.port}${config.dataDir ? ` with data in ${config.dataDir}` : ' in memory'}`,
    close: async () => {
      await store.close()
      await devstore.close()
    },
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}
