// The public API of 'annals'. Each line is an API decision: named re-exports only, grouped by concept.

// Errors
/** The base error class, its stable codes, and the errors users catch or throw. */
export {
  AnnalsError,
  DomainError,
  BadInputError,
  ConcurrencyConflictError,
  CommandIdReusedError,
  ConsistencyTimeoutError,
  StoredEventError,
  StreamDeletedError,
  StoreUnavailableError,
  errorCodes,
  isAnnalsError,
  type ErrorCode,
} from './errors.ts'

// Aggregates
/** Declares an aggregate from zod schemas: state, events, commands (decide) and evolve. */
export {
  defineAggregate,
  type AggregateDefinition,
  type AnyAggregate,
  type DecideContext,
  type DomainEvent,
  type EmittedEvent,
  type EventMap,
} from './aggregate/define-aggregate.ts'
/** Declares an event whose stored shapes are upcast to the current schema when read. */
export { versionedEvent } from './aggregate/versioned-event.ts'

// Commands
/** Loads an aggregate instance from the store: its latest usable snapshot, then the events after it. */
export { loadAggregate, type LoadedAggregate } from './command/load-aggregate.ts'
/**
 * The command bus of one process: validates a command once, runs it in its aggregate's mailbox against the
 * state held in memory, appends the commands that waited together at once, deduplicates command ids.
 */
export {
  createCommandBus,
  type CommandBusOptions,
  type LocalCommandBus,
} from './command/create-command-bus.ts'

/** Stable ids: the UUID v5 of a name in Annals' namespace, as Annals derives event and reactor ids. */
export { nameBasedUuid } from './command/derive-event-id.ts'

// Stores
/** An event store held in memory that behaves as EventStoreDB does: for unit tests that need no server. */
export {
  createInMemoryEventStore,
  type InMemoryEventStore,
  type InMemoryEventStoreOptions,
} from './event-store/in-memory-event-store.ts'
/** The event store over EventStoreDB, KurrentDB or the devstore, through @eventstore/db-client. */
export {
  createEventStoreDbStore,
  type EventStoreDbConnection,
} from './event-store/eventstoredb-event-store.ts'

// Ports
/** The event-store port and its types; adapters implement it. */
export type {
  EventStore,
  EventToAppend,
  RecordedEvent,
  AppendResult,
  ExpectedRevision,
  SubscriptionMessage,
  StreamMetadata,
} from './event-store/event-store.ts'
/** The command-bus port: how commands are sent, locally or to the owning replica. */
export type { CommandBus, CommandEnvelope, CommandResult, AppendedEvent } from './command/command-bus.ts'
/** The read-model port the gateway consumes and annals/projections implements. */
export type {
  ReadModelSource,
  ListQuery,
  Page,
  RowChange,
  FieldFilter,
  OrderBy,
  ProjectionStatus,
  ProjectionState,
  WaitForOptions,
  ChangesOptions,
} from './read-model/read-model-source.ts'
/** How the read side (createReadSide from annals/projections) plugs into the server without the framework importing it. */
export type {
  ReadSide,
  ReadSideContext,
  ReadSideLogger,
  ReadSideOption,
  ReadModelShape,
  WorkflowShape,
  WorkflowView,
  WorkflowInstanceView,
  WorkflowDeadLetterView,
} from './read-model/read-side.ts'
/** What an operator may see and do to a read side: the port the ops endpoint drives and annals/projections implements. */
export type {
  DeadLetterView,
  ProjectionOperations,
  ProcessorOperations,
  PartitionStatus,
} from './read-model/read-side-operations.ts'

// Sharding
/** Shards aggregates across replicas: createServer uses it when ANNALS_PEERS is set, or pass it as `cluster`. */
export { createCluster, type CreateClusterOptions } from './sharding/create-cluster.ts'
export type {
  Cluster,
  ClusterOption,
  ClusterContext,
  ClusterStatus,
  MemberStatus,
  RingMember,
} from './sharding/cluster.ts'
/** The environment variables sharding reads, as a zod schema and a list of names (deploy checks against it). */
export { ClusterEnvironment, clusterEnvironmentNames } from './sharding/cluster-config.ts'

// Server
/** Builds the service (commands, read side, GraphQL gateway, health, metrics, graceful shutdown) as a fastify instance. */
export {
  createServer,
  annals,
  type ServerOptions,
  type AnnalsOptions,
  type AnnalsServerHandle,
} from './server/create-server.ts'
/**
 * The environment createServer reads (PORT, HOST, EVENTSTORE_URL, ANNALS_DATA_DIR, NODE_ENV, LOG_LEVEL, ...) as a zod
 * schema: public so that deploy tooling can check manifests against it, as test/cluster/deploy-manifests does.
 */
export { ServerEnvironment, type ServerConfig } from './server/server-config.ts'
/** What createServer's `store` accepts: an EventStore or a connection string. */
export type { StoreOption } from './server/resolve-store.ts'

// GraphQL
/** Who is asking and what they may do: principals, per-operation rules, and authentication. */
export type {
  Principal,
  AuthorizationRule,
  AuthorizationRules,
  OperationRequest,
} from './graphql/guards/authorize-operation.ts'
export type {
  Authenticate,
  AuthenticationRequest,
  JwtOptions,
} from './graphql/guards/authenticate-request.ts'
/** The limits every GraphQL request is held to, and their defaults. */
export { defaultLimits, type GatewayLimits } from './graphql/guards/gateway-limits.ts'
/** The GraphQL schema of an application, derived from its aggregates and read models (what `annals schema` prints). */
export { buildGatewaySchema } from './graphql/schema/build-gateway-schema.ts'
export type {
  GatewayDefinition,
  GatewayRuntime,
  GatewayContext,
} from './graphql/transport/gateway-context.ts'

// Tracing
/** The trace and span ids of the active span for a pino `mixin`, so log lines name their trace. */
export { traceLogFields } from './tracing/trace-log-fields.ts'
/** The metadata key under which each appended event keeps the W3C traceparent of its command. */
export { TRACEPARENT_KEY } from './tracing/traceparent.ts'
