// The public API of 'annals/testing': given/when/then specifications. Named re-exports only.

// Aggregates
/** Given/when/then specifications of an aggregate: `spec.given([...]).when('command', input).thenEmits([...])`. */
export {
  aggregateSpec,
  type AggregateSpec,
  type AggregateSpecOptions,
  type SpecCommand,
  type SpecGiven,
  type SpecOutcome,
} from './aggregate-spec.ts'
export type { AggregateDefinition } from '../aggregate/define-aggregate.ts'

// The GraphQL boundary
/** Given/when/then at the gateway: given events, when a GraphQL operation, then the reply and the events appended. */
export {
  gatewaySpec,
  type GatewaySpec,
  type GatewaySpecGiven,
  type GatewaySpecOptions,
  type GatewaySpecOutcome,
  type GatewayReply,
  type AppendedEvent,
} from './gateway-spec.ts'
export type { SpecEvent } from './spec-history.ts'
