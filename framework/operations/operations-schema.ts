import { buildSchema, type GraphQLSchema } from 'graphql'

/** Where the operations endpoint answers. */
export const OPERATIONS_PATH = '/ops/graphql'

/**
 * The SDL of the operations endpoint (/ops/graphql): a schema of its own, apart from the application's, for
 * operators. Positions are strings, as on the application's schema; times are ISO 8601 strings.
 */
export const operationsSdl = /* GraphQL */ `
  "What an operator of an Annals service may see and do."
  type Query {
    "Every projection of this service."
    projections: [Projection!]!
    "One projection; NOT_FOUND for an unknown name."
    projection(name: String!): Projection!
    "Every reactor, with the partitions this replica runs."
    reactors: [Processor!]!
    "Every workflow, with the partitions this replica runs."
    workflows: [Processor!]!
    "The replicas of the ring and the aggregates each hosts (this replica alone when not sharded)."
    ring: Ring!
    "Whether the event store (the devstore or EventStoreDB) answers."
    store: StoreHealth!
  }

  type Mutation {
    "Stops folding events into the projection on this replica; its rows keep serving as they are."
    pauseProjection(name: String!): Projection!
    "Catches a paused or failed projection up from its checkpoint, then follows live."
    resumeProjection(name: String!): Projection!
    "Starts building a fresh copy from the start of the log; it switches in once level (status REBUILDING until then)."
    rebuildProjection(name: String!): Projection!
    "Handles a dead letter's event again; RETRY_FAILED when it fails again (it stays a dead letter)."
    retryDeadLetter(name: String!, id: ID!, kind: HandlerKind): DeadLetterSettled!
    "Gives a dead letter's event up for good; what waited behind it goes on."
    discardDeadLetter(name: String!, id: ID!, kind: HandlerKind): DeadLetterSettled!
  }

  "What kind of handler a name is: needed only when a projection, a reactor or a workflow share a name."
  enum HandlerKind {
    PROJECTION
    REACTOR
    WORKFLOW
  }

  enum ProjectionRunStatus {
    RUNNING
    PAUSED
    "Its rebuild started here is filling a fresh copy."
    REBUILDING
    "Stopped for good on this replica, which still holds it: a rebuild could not switch to its copy after stopping the model. resumeProjection or rebuildProjection clears it."
    FAILED
    STOPPED
  }

  type Projection {
    name: String!
    status: ProjectionRunStatus!
    "Why it failed, while FAILED."
    failure: String
    "Whether it has reached the head of the log (false while it catches up)."
    caughtUp: Boolean!
    "The committed checkpoint: the position of the last event processed."
    position: String!
    "Events of its types after the checkpoint."
    eventsBehind: Int!
    "The age of the oldest event it has not processed; 0 when level."
    secondsBehind: Float!
    eventsProcessed: Float!
    "Events waiting behind dead letters and handler retries."
    heldEvents: Int!
    version: Int!
    deadLetters: [DeadLetter!]!
  }

  "A reactor or a workflow."
  type Processor {
    name: String!
    kind: HandlerKind!
    "The partitions running on this replica."
    partitions: [String!]!
    "Where each partition running on this replica stands, and how far behind the log it is."
    partitionStatus: [PartitionStatus!]!
    "Events behind, summed over the partitions running here."
    eventsBehind: Int!
    "The age of the oldest event a partition running here has not handled; 0 when level."
    secondsBehind: Float!
    deadLetters: [DeadLetter!]!
  }

  "One partition of a reactor or workflow, running on this replica."
  type PartitionStatus {
    partition: String!
    "The position it has handled the log through: each event of the partition up to it handled or a dead letter."
    position: String!
    "What its durable checkpoint holds (null before the first); a restart handles the events after it again."
    checkpoint: String
    "Events of the partition after its position, counted as a projection's are."
    eventsBehind: Int!
    "The age of the oldest of them; 0 when level."
    secondsBehind: Float!
  }

  type DeadLetter {
    "What retryDeadLetter and discardDeadLetter take."
    id: ID!
    "The event given up on; null for a workflow's reaction to a timer."
    event: DeadLetterEvent
    "The projection row key held behind it."
    key: String
    partition: String
    "The workflow instance it holds."
    workflowId: String
    "What a workflow reacted to."
    trigger: String
    attempts: Int
    error: String!
    failedAt: String!
  }

  type DeadLetterEvent {
    id: ID!
    type: String!
    stream: String!
    position: String!
  }

  type DeadLetterSettled {
    kind: HandlerKind!
    name: String!
    id: ID!
    outcome: DeadLetterOutcome!
  }

  enum DeadLetterOutcome {
    RETRIED
    DISCARDED
  }

  type Ring {
    "Whether this service shards across replicas."
    sharded: Boolean!
    "This replica's URL."
    self: String!
    members: [RingMember!]!
  }

  type RingMember {
    id: String!
    url: String!
    state: MemberState!
    self: Boolean!
    "Aggregates held in memory there; null when it did not answer."
    hostedAggregates: Int
  }

  enum MemberState {
    ALIVE
    SUSPECT
    DOWN
    LEAVING
  }

  type StoreHealth {
    kind: StoreKind!
    "Where it is, without credentials."
    description: String!
    reachable: Boolean!
    "The position of the last event in the log, when it answered."
    headPosition: String
    latencyMs: Float
    error: String
  }

  enum StoreKind {
    DEVSTORE
    EVENTSTOREDB
    GIVEN
  }
`

let built: GraphQLSchema | undefined

/** The operations schema, built on first use (a service without the endpoint never builds it). */
export function operationsSchema(): GraphQLSchema {
  built ??= buildSchema(operationsSdl)
  return built
}
