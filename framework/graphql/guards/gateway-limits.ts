import type { DocumentNode, GraphQLSchema } from 'graphql'
import { AnnalsError } from '../../errors.ts'
import { measureOperation } from './measure-operation.ts'

/** The limits every request is held to; each can be raised, and set to Infinity to turn it off. */
export interface GatewayLimits {
  /** Nesting of fields. Default 12. */
  readonly maxDepth: number
  /** Fields weighted by list sizes and `first`. Default 10,000. */
  readonly maxCost: number
  readonly maxAliases: number
  /**
   * Fragment spreads, each counted with the spreads inside its fragment (as graphql-jit inlines them, in time
   * that grows with this count). Default 1,000.
   */
  readonly maxFragmentSpreads: number
  /**
   * Pairs of selections graphql compares to check that fields of one response name can merge (see
   * count-field-pairs.ts): its validation time grows with them, so they are counted, after parsing and before
   * validation. Default 2,000.
   */
  readonly maxFieldPairs: number
  /** Operations in one batched request. Default 10. */
  readonly maxBatch: number
  /** Bytes of a request body (and of a WebSocket message). Default 1 MiB. */
  readonly maxBodyBytes: number
  /** Characters of one GraphQL document, checked before it is read. Default 32,768. */
  readonly maxQueryLength: number
  /** Tokens of one GraphQL document (graphql's `maxTokens`), counted before it is parsed. Default 3,000. */
  readonly maxTokens: number
  /**
   * Brackets open at once in a document (selection sets, arguments, list and object literals), checked
   * before it is parsed, so a deeply nested literal cannot overflow the parser's stack. Default 64.
   */
  readonly maxNesting: number
  /**
   * Parsed documents mercurius keeps for reuse (it holds up to twice as many); each passed the limits above,
   * so one is at most about 1 MB at the defaults. Default 256.
   */
  readonly maxCachedDocuments: number
  /** Open WebSocket connections from one address; more are refused with 429. Default 64. */
  readonly maxConnectionsPerAddress: number
  readonly maxSubscriptionsPerConnection: number
  /** Messages waiting for a slow subscriber before it is disconnected. Default 256. */
  readonly subscriptionBuffer: number
  /** The cap on `first` and the default page size. Default 100. */
  readonly maxPageSize: number
  /** The size assumed for lists without `first` when costing. Default 10. */
  readonly defaultListSize: number
  /**
   * Per client (principal, else address): a bucket of `burst` operations refilled at `perSecond`; each
   * operation of a batch and each subscription started takes one; false: off.
   */
  readonly rateLimit: { readonly burst: number; readonly perSecond: number } | false
}

export const defaultLimits: GatewayLimits = {
  maxDepth: 12,
  maxCost: 10_000,
  maxAliases: 30,
  maxFragmentSpreads: 1000,
  maxFieldPairs: 2000,
  maxBatch: 10,
  maxBodyBytes: 1024 * 1024,
  maxQueryLength: 32_768,
  maxTokens: 3000,
  maxNesting: 64,
  maxCachedDocuments: 256,
  maxConnectionsPerAddress: 64,
  maxSubscriptionsPerConnection: 50,
  subscriptionBuffer: 256,
  maxPageSize: 100,
  defaultListSize: 10,
  rateLimit: { burst: 200, perSecond: 100 },
}

/**
 * Checks a parsed document against the limits (and refuses introspection when it is off). Runs on every
 * request, before execution: mercurius caches validation per document, and the cost depends on variables
 * (measureOperation remembers the measure per document and per value of the variables it reads).
 */
export function enforceLimits(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Readonly<Record<string, unknown>> | undefined,
  options: { readonly limits: GatewayLimits; readonly introspection: boolean },
): void {
  const { limits } = options
  const measure = measureOperation(schema, document, {
    variables,
    defaultListSize: limits.defaultListSize,
    maxPageSize: limits.maxPageSize,
  })
  if (measure.introspection && !options.introspection) {
    throw new AnnalsError('FORBIDDEN', 'Introspection is turned off on this server')
  }
  if (measure.depth > limits.maxDepth) throw exceeded('depth', measure.depth, limits.maxDepth)
  if (measure.aliases > limits.maxAliases) throw exceeded('alias count', measure.aliases, limits.maxAliases)
  if (measure.cost > limits.maxCost) throw exceeded('cost', measure.cost, limits.maxCost)
  if (measure.spreads > limits.maxFragmentSpreads) {
    throw exceeded('fragment spread count', measure.spreads, limits.maxFragmentSpreads)
  }
}

function exceeded(what: string, value: number, limit: number): AnnalsError {
  return new AnnalsError(
    'LIMIT_EXCEEDED',
    `The operation's ${what} is ${value}, above the limit of ${limit}`,
    {
      details: { limit: what, value, max: limit },
    },
  )
}
