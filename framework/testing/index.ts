// The public API of 'annals/testing': given/when/then specifications. Named re-exports only.
export type { AggregateDefinition } from '../aggregate/define-aggregate.ts'
