// The public API of 'annals/devstore': the embedded EventStoreDB-compatible server. Named re-exports only.

/** Starts the devstore: a gRPC server that @eventstore/db-client takes for a single-node EventStoreDB. */
export { createDevStore, type DevStore, type DevStoreOptions } from './create-dev-store.ts'

/** Starts a devstore on a worker thread of this process (createServer's with ANNALS_DEVSTORE_THREAD=true). */
export { startDevStoreThread, type DevStoreThread, type DevStoreThreadOptions } from './dev-store-thread.ts'

/** Fault injection for tests: dropped subscriptions, failing appends, slow replies, restarts. */
export type { DevStoreFaults } from './faults.ts'

/** The seam for extra gRPC services on the devstore's server (persistent subscriptions use it). */
export type { DevStoreService, DevStoreServiceFactory, ServiceContext } from './grpc/service-context.ts'

/** TLS certificate files for DevStoreOptions.tls (or 'dev' for throwaway development certificates). */
export type { DevStoreTls } from './tls/dev-store-tls.ts'
