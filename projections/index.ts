// The public API of 'annals/projections': the read side. Named re-exports only, grouped by concept.

// Projections
/** Declares a read model: a zod row, its key, the aggregates it reads and a pure handler per event type. */
export {
  defineProjection,
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
  type ReactorDefinition,
  type ReactorConfig,
  type ReactorContext,
  type ReactorCommand,
  type ReactorHandler,
} from './reactors/define-reactor.ts'
/** The stream a reactor partition keeps its checkpoint in. */
export { reactorCheckpointStream } from './reactors/reactor-partition.ts'
/** A reactor's dead letters, kept in a stream of the event store beside its checkpoints. */
export { reactorDeadLetterStream, type ReactorDeadLetter } from './reactors/reactor-dead-letters.ts'

// Workflows
/** Declares a workflow: a process manager per correlation id, its state recorded in its own stream, reacting to events and durable timers. */
export {
  defineWorkflow,
  type WorkflowDefinition,
  type WorkflowConfig,
  type WorkflowReactions,
  type WorkflowEventContext,
  type WorkflowTimerContext,
  type WorkflowEventHandler,
  type WorkflowTimerHandler,
  type WorkflowTimer,
  type FiredTimer,
  type TimerDue,
} from './workflows/define-workflow.ts'
/** The time workflow timers run on: the system clock by default, a clock of their own in tests. */
export { systemClock, type WorkflowClock } from './workflows/workflow-clock.ts'
/** A workflow instance's stream and its records (each carries the instance's state and pending timers). */
export {
  workflowStream,
  WORKFLOW_RECORD_TYPES,
  type WorkflowRecord,
  type WorkflowSnapshot,
  type WorkflowTrigger,
} from './workflows/workflow-records.ts'
/** A workflow's dead letters: reactions given up on, each holding its instance until retried or discarded. */
export { workflowDeadLetterStream, type WorkflowDeadLetter } from './workflows/workflow-dead-letters.ts'
/** A workflow instance as operations see it. */
export type { WorkflowInstance } from './workflows/workflow-host.ts'

// Running the read side
/** Declares the read side createServer runs (its `readSide` option): projections, reactors and where the models live. */
export {
  createReadSide,
  type ReadSideOptions,
  type ReadSideFactory,
  type AnyProjection,
  type ProjectionReadSide,
  type ProjectionControl,
  type ReactorControl,
  type WorkflowControl,
} from './create-read-side.ts'
/** An event a projection could not fold after its retries; its key waits until it is retried or discarded. */
export type { DeadLetter } from './projection-engine.ts'
/** How failing handlers and dropped subscriptions are retried. */
export type { RetryPolicy } from './retry-policy.ts'

// Read-model stores
/** Where a projection keeps its rows, checkpoint and held keys together, committed a batch at a time. */
export type {
  ReadModelStore,
  StoredPage,
  HeldKey,
  Checkpoint,
  RowBatch,
  BatchChange,
} from './read-models/read-model-store.ts'
/** Where a read side keeps its models: one store per projection; memory is one, PostgreSQL another. */
export { createInMemoryReadModels, type ReadModelDatabase } from './read-models/read-model-database.ts'
/** Read models in PostgreSQL, shared by every replica: tables, leases, notifications, the durable change feed. */
export {
  createPostgresReadModels,
  type PostgresReadModelsOptions,
} from './read-models/postgres/postgres-read-models.ts'
/** The in-memory store: rows in memory with hash indexes, filters, sorting and cursor pagination. */
export {
  createInMemoryReadModelStore,
  type InMemoryReadModelStore,
  type InMemoryReadModelStoreOptions,
  type ListPlan,
} from './read-models/in-memory-read-model-store.ts'

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
