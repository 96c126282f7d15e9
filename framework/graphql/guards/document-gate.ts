import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLFormattedError,
  type GraphQLSchema,
  OperationTypeNode,
} from 'graphql'
import { LRUCache } from 'lru-cache'
import { AnnalsError } from '../../errors.ts'
import { countFieldPairs, maxCountedSelections } from './count-field-pairs.ts'
import { enforceLimits, type GatewayLimits } from './gateway-limits.ts'

export interface DocumentGateOptions {
  readonly schema: GraphQLSchema
  readonly limits: GatewayLimits
  readonly introspection: boolean
}

/** What a request asks the gate to admit: one operation of an HTTP request or a WebSocket subscribe. */
export interface Admission {
  readonly query?: unknown
  /** An object, or a GET's JSON text: read only for a document not seen before, to cost `first` arguments. */
  readonly variables?: unknown
  readonly operationName?: unknown
  /** Over HTTP a subscription is refused: subscriptions are served over WebSocket only. */
  readonly transport: 'http' | 'ws'
}

export interface DocumentGate {
  /**
   * Throws unless the query is a GraphQL document within the size, token and nesting limits, within the
   * depth, alias, cost and spread limits, and valid against the schema: all before mercurius parses it, so
   * nothing it caches was refused. A document admitted before costs one lookup.
   */
  admit(admission: Admission): void
}

/** A document that does not parse or validate: its errors, formatted, are what the client gets. */
export class InvalidDocumentError extends Error {
  override readonly name = 'InvalidDocumentError'
  constructor(readonly errors: readonly GraphQLFormattedError[]) {
    super(errors[0]?.message ?? 'The document is invalid')
  }
}

interface Operation {
  readonly name: string | undefined
  readonly kind: OperationTypeNode
}

/** Validation errors reported for one document: each costs a stack and a scan of the source for its line. */
const MAX_ERRORS = 20
/** Characters of admitted documents remembered (their keys); the least recently used are forgotten first. */
const ADMITTED_CHARACTERS = 8 * 1024 * 1024
/** Characters of refused documents and their errors remembered, so a repeat costs a lookup. */
const REFUSED_CHARACTERS = 4 * 1024 * 1024

/**
 * The gate every GraphQL document passes before mercurius sees it. The cheap limits come first (a string, its
 * length, then a lexer pass counting tokens and open brackets) so that a large or deeply nested document is
 * refused before anything is built from it; the parse, the limits and validation follow. Both caches are
 * bounded by characters, and what they keep is the query text and plain error messages, never a syntax tree.
 *
 * @example
 * const gate = createDocumentGate({ schema, limits, introspection: false })
 * gate.admit({ query: body.query, variables: body.variables, transport: 'http' })
 */
export function createDocumentGate(options: DocumentGateOptions): DocumentGate {
  const { schema, limits } = options
  const admitted = new LRUCache<string, readonly Operation[]>({
    maxSize: ADMITTED_CHARACTERS,
    sizeCalculation: (_operations, query) => query.length + 1,
  })
  const refused = new LRUCache<string, InvalidDocumentError>({
    maxSize: REFUSED_CHARACTERS,
    sizeCalculation: (error, query) => query.length + JSON.stringify(error.errors).length,
  })

  function firstSight(query: string, variables: Admission['variables']): readonly Operation[] {
    if (query.length > limits.maxQueryLength) {
      throw new AnnalsError(
        'LIMIT_EXCEEDED',
        `The document holds ${query.length} characters, above the limit of ${limits.maxQueryLength}`,
        { details: { limit: 'length', value: query.length, max: limits.maxQueryLength } },
      )
    }
    let document: DocumentNode
    try {
      scanTokens(query, limits)
      document = parse(query, { maxTokens: limits.maxTokens })
    } catch (error) {
      if (!(error instanceof GraphQLError)) throw error
      throw remember(query, [error])
    }
    // Before validation, whose cost grows with the fields the limits bound (overlapping fields compare pairs).
    enforceLimits(schema, document, variablesOf(variables), options)
    const pairs = countFieldPairs(document, limits.maxFieldPairs)
    if (pairs > limits.maxFieldPairs) {
      const why =
        pairs === Infinity
          ? `expands through its fragments to more than ${maxCountedSelections} selections`
          : `asks validation to compare more than ${limits.maxFieldPairs} pairs of fields of one name`
      throw new AnnalsError('LIMIT_EXCEEDED', `The document ${why}`, {
        details: { limit: 'field pairs', max: limits.maxFieldPairs },
      })
    }
    const errors = validate(schema, document, specifiedRules, { maxErrors: MAX_ERRORS })
    if (errors.length > 0) throw remember(query, errors)
    const operations: Operation[] = []
    for (const definition of document.definitions) {
      if (definition.kind === Kind.OPERATION_DEFINITION)
        operations.push({ name: definition.name?.value, kind: definition.operation })
    }
    admitted.set(query, operations)
    return operations
  }

  function remember(query: string, errors: readonly GraphQLError[]): InvalidDocumentError {
    const refusal = new InvalidDocumentError(
      errors.map((error) => ({
        message: error.message,
        ...(error.locations ? { locations: error.locations } : {}),
        extensions: { code: 'BAD_INPUT' },
      })),
    )
    refused.set(query, refusal)
    return refusal
  }

  return {
    admit({ query, variables, operationName, transport }) {
      if (typeof query !== 'string') {
        throw new AnnalsError('BAD_INPUT', 'query must be a string holding a GraphQL document')
      }
      const known = refused.get(query)
      if (known) throw known
      const operations = admitted.get(query) ?? firstSight(query, variables)
      const operation = selected(operations, operationName)
      // graphql's own answers, given here because mercurius fails on a GET that selects no operation.
      if (operation === undefined) {
        throw new AnnalsError(
          'BAD_INPUT',
          typeof operationName === 'string'
            ? `Unknown operation named "${operationName}".`
            : 'Must provide operation name if query contains multiple operations.',
        )
      }
      if (transport === 'http' && operation.kind === OperationTypeNode.SUBSCRIPTION) {
        throw new AnnalsError(
          'BAD_INPUT',
          'Subscriptions are served over WebSocket (graphql-transport-ws) at this path, not over HTTP',
        )
      }
    },
  }
}

/** Counts tokens and open brackets with graphql's own lexer (comments are skipped, strings are one token). */
function scanTokens(query: string, limits: GatewayLimits): void {
  const lexer = new Lexer(new Source(query))
  let tokens = 0
  let depth = 0
  for (let token = lexer.advance(); token.kind !== TokenKind.EOF; token = lexer.advance()) {
    if (++tokens > limits.maxTokens) {
      throw new AnnalsError('LIMIT_EXCEEDED', `The document holds more than ${limits.maxTokens} tokens`, {
        details: { limit: 'tokens', max: limits.maxTokens },
      })
    }
    const kind = token.kind
    if (kind === TokenKind.BRACE_L || kind === TokenKind.BRACKET_L || kind === TokenKind.PAREN_L) {
      if (++depth > limits.maxNesting) {
        throw new AnnalsError(
          'LIMIT_EXCEEDED',
          `The document nests more than ${limits.maxNesting} brackets deep`,
          { details: { limit: 'nesting', max: limits.maxNesting } },
        )
      }
    } else if (kind === TokenKind.BRACE_R || kind === TokenKind.BRACKET_R || kind === TokenKind.PAREN_R) {
      depth--
    }
  }
}

function variablesOf(raw: unknown): Readonly<Record<string, unknown>> | undefined {
  if (typeof raw === 'object' && raw !== null) return raw as Record<string, unknown>
  if (typeof raw !== 'string') return undefined
  try {
    const parsed: unknown = JSON.parse(raw)
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined // mercurius judges the variables after the gate
  }
}

/** The operation a request runs, as graphql picks it: by name, else the only one. */
function selected(operations: readonly Operation[], operationName: unknown): Operation | undefined {
  if (typeof operationName === 'string')
    return operations.find((operation) => operation.name === operationName)
  return operations.length === 1 ? operations[0] : undefined
}
