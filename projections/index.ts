// The public API of 'annals/projections': the read side. Named re-exports only, grouped by concept.

// Projections
/** Declares a read model: a zod row, its key, the aggregates it reads and a pure handler per event type. */
export {
  defineProjection,
  isProjectionDefinition,
  type ProjectionDefinition,
  type ProjectionConfig,
  type ProjectionHandler,
  type KeyedProjectionHandler,
  type ProjectionHandlers,
  type ProjectionEventContext,
  type AggregateEvent,
} from './define-projection.ts'

// Reactors
/** Declares a reactor: handlers with side effects that send commands, run once per partition with a durable checkpoint. */
export {
  defineReactor,
  isReactorDefinition,
  type ReactorDefinition,
  type ReactorConfig,
  type ReactorContext,
  type ReactorCommand,
  type ReactorHandler,
} from './define-reactor.ts'
/** The stream a reactor partition keeps its checkpoint in, and the id derivation that makes its commands idempotent. */
export { reactorCheckpointStream, derivedUuid, type ReactorDeadLetter } from './reactor-partition.ts'

// Running the read side
/** Builds the runtime of projections and reactors: sources for the gateway, readiness, status, operations. */
export {
  createReadSide,
  type ReadSideOptions,
  type ProjectionReadSide,
  type ProjectionControl,
  type ReactorControl,
} from './create-read-side.ts'
/** An event a projection could not fold after its retries; its key waits until it is retried or discarded. */
export type { DeadLetter } from './projection-engine.ts'
/** How failing handlers and dropped subscriptions are retried. */
export type { RetryPolicy } from './retry-policy.ts'

// Read-model stores
/** Where a projection keeps its rows, checkpoint and held keys together; implement it for a durable store. */
export type { ReadModelStore, StoredPage, HeldKey } from './read-model-store.ts'
/** The default store: rows in memory with hash indexes, filters, sorting and cursor pagination. */
export {
  createInMemoryReadModelStore,
  type InMemoryReadModelStore,
  type InMemoryReadModelStoreOptions,
  type ListPlan,
} from './in-memory-read-model-store.ts'

// Change feeds
/** Raised when a change feed cannot resume from a position older than the changes it keeps (CHANGES_EXPIRED). */
export { ChangesExpiredError } from './change-feed.ts'

// The port it implements
/** The read-model port from 'annals' that these projections implement for the gateway. */
export type {
  ReadModelSource,
  RowChange,
  ProjectionStatus,
  ProjectionState,
  ListQuery,
  Page,
} from '../framework/index.ts'
