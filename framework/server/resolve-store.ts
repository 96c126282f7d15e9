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
 * The store to run on: the one given; else a connection string (given, or EVENTSTORE_URL); else a devstore
 * in this process, on its event loop or on a worker thread of its own (ANNALS_DEVSTORE_THREAD), imported only
 * then so applications on EventStoreDB never load it.
 */
export async function resolveStore(
  option: StoreOption | undefined,
  config: {
    readonly eventStoreUrl: string | undefined
    readonly dataDir: string | undefined
    /** Run the devstore on a worker thread rather than on the service's event loop. */
    readonly devstoreThread: boolean
    /** Run the devstore's system projections (else they stay stopped until enabled). */
    readonly devstoreSystemProjections: boolean
  },
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
  const devstore = await startDevStore(config)
  const store = createEventStoreDbStore(devstore.connectionString)
  const where = config.devstoreThread ? 'on its own thread' : "on the service's thread"
  return {
    store,
    kind: 'devstore',
    description: `a devstore ${where} on port ${devstore.port}${config.dataDir ? ` with data in ${config.dataDir}` : ' in memory'}`,
    close: async () => {
      await store.close()
      await devstore.close()
    },
  }
}

async function startDevStore(config: {
  readonly dataDir: string | undefined
  readonly devstoreThread: boolean
  readonly devstoreSystemProjections: boolean
}): Promise<{ readonly connectionString: string; readonly port: number; close(): Promise<void> }> {
  const { createDevStore, startDevStoreThread } = await import('../../devstore/index.ts')
  const options = {
    ...(config.dataDir === undefined ? {} : { dataDir: config.dataDir }),
    systemProjections: config.devstoreSystemProjections,
  }
  if (!config.devstoreThread) return createDevStore(options)
  const devstore = await startDevStoreThread(options)
  // As on the service's own thread: an error that ends the devstore ends the process.
  devstore.onExit((error) => {
    throw error
  })
  return devstore
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}
