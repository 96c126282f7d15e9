import type { Context, Span } from '@opentelemetry/api'
import type { GraphQLFieldConfig } from 'graphql'
import type { AnyAggregate } from '../../aggregate/define-aggregate.ts'
import type { CommandBus } from '../../command/command-bus.ts'
import type { EventStore } from '../../event-store/event-store.ts'
import type { ReadModelSource } from '../../read-model/read-model-source.ts'
import type { WorkflowShape, WorkflowView } from '../../read-model/read-side.ts'
import type { AuthorizationRules, Principal } from '../guards/authorize-operation.ts'

/** What the gateway schema is built from. */
export interface GatewayDefinition {
  readonly aggregates: readonly AnyAggregate[]
  readonly sources: readonly ReadModelSource[]
  /** Offer `schedule<Command>` mutations and `cancelScheduledCommand` (the read side fires scheduled commands). */
  readonly scheduledCommands?: boolean
  /** Workflows: a query each (`<name>Workflow`). */
  readonly workflows?: readonly WorkflowShape[]
}

/** What the resolvers need at run time; `annals schema` builds the schema without one. */
export interface GatewayRuntime {
  readonly commands: CommandBus
  /** What the workflow queries read. */
  readonly workflow?: (name: string) => WorkflowView
  readonly store: EventStore
  readonly authorization?: AuthorizationRules
  /** How long a query waits for `consistentWith` before CONSISTENCY_TIMEOUT. */
  readonly consistencyTimeoutMs: number
  /** The largest `first` a list query or subscription accepts; also its default. */
  readonly maxPageSize: number
  /** Messages a subscription may have waiting for a slow client before it is disconnected. */
  readonly subscriptionBuffer: number
  /** Called when a subscription ends, with why (for metrics). */
  readonly onSubscriptionEnd?: (reason: 'complete' | 'slow-consumer') => void
}

/** The per-operation context every resolver receives (mercurius adds its own fields beside these). */
export interface GatewayContext {
  readonly principal: Principal | undefined
  readonly requestId: string
  /** The operation's span and the context it is active in, while an SDK records it. */
  trace?: { readonly span: Span; readonly context: Context } | undefined
  /** Set on WebSocket operations: closes the connection (a slow consumer, shutdown). */
  readonly closeConnection?: (code: number, reason: string) => void
}

/** A field of the gateway schema: a query, mutation or subscription with its resolvers. */
export type GatewayField = GraphQLFieldConfig<unknown, GatewayContext>
