import { LRUCache } from 'lru-cache'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema } from 'graphql'
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit'
import { builtInScalars } from '../schema/built-in-scalars.ts'
import type { GatewayContext } from './gateway-context.ts'
import { compileResultCheck, type ResultCheck } from './result-check.ts'
import { endOperationSpan, startOperationSpan } from './trace-operation.ts'

/** What mercurius does with an execution that has errors: the body and status our error formatter gives. */
export type FinishExecution = (
  execution: ExecutionResult,
  context: { readonly reply: FastifyReply },
) => { readonly statusCode: number; readonly response: ExecutionResult }

export interface CompiledGetOptions {
  readonly schema: GraphQLSchema
  /** Throws when the document and these variables break a limit; runs on every request. */
  readonly enforceLimits: (document: DocumentNode, variables: Record<string, unknown> | undefined) => void
  readonly finish: FinishExecution
  readonly context: (request: FastifyRequest, reply: FastifyReply) => GatewayContext
  /** Documents remembered; the oldest is forgotten first. Default 1024, as mercurius's own cache. */
  readonly maxDocuments?: number
}

/**
 * GET queries whose document mercurius has already parsed, validated and run: answered from a compiled
 * graphql-jit query, without mercurius's per-request parse lookup, second variable coercion, context and hook
 * plumbing. A query run first copies scalar and enum values as they are and stands when they are what graphql
 * would send (result-check.ts); otherwise a run that serializes each value answers. Every guard still runs on
 * every request: the route's CSRF and querystring checks and the gateway's guard before it, the limits (with
 * this request's variables) here. Anything unusual (invalid variables, a limit broken, extensions, a query
 * string that failed validation) is left to mercurius, which answers as it always did.
 */
export interface CompiledGet {
  /** Called from preExecution: the document of this GET passed parsing, validation and the GET checks. */
  remember(document: DocumentNode, request: FastifyRequest): void
  /** Answers the request and returns true, or returns false and leaves it to mercurius. */
  answer(request: FastifyRequest, reply: FastifyReply): Promise<boolean>
  /** Requests answered here since start (for tests and diagnostics). */
  readonly answered: number
}

interface Remembered {
  readonly document: DocumentNode
  readonly operationName: string | undefined
  /** Runs through mercurius; it compiles its own copy on the second, so a fallback then meets it steady. */
  runs: number
  compiled: Compiled | false | undefined
}

interface Compiled {
  /** Serializes every leaf as graphql does, then the result with a serializer built for the query. */
  readonly serializing: CompiledQuery
  /**
   * Copies built-in scalar and enum values as the resolvers return them and the result with JSON.stringify, as
   * mercurius's path does; its answer stands when `check` passes (see result-check.ts).
   */
  readonly copying?: { readonly query: CompiledQuery; readonly check: ResultCheck }
}

interface GetQuerystring {
  readonly query?: unknown
  readonly operationName?: unknown
  readonly variables?: unknown
  readonly extensions?: unknown
  readonly persisted?: unknown
}

// mercurius's root value is an empty object too; resolvers never read it.
const root = {}

export function createCompiledGet(options: CompiledGetOptions): CompiledGet {
  const maxDocuments = options.maxDocuments ?? 1024
  const documents = new LRUCache<string, Remembered>({ max: maxDocuments })
  let answered = 0

  return {
    get answered() {
      return answered
    },
    remember(document, request) {
      const query = request.query as GetQuerystring
      if (typeof query.query !== 'string' || !isOperationName(query.operationName)) return
      const operationName = query.operationName ?? undefined
      const key = keyOf(query.query, operationName)
      const known = documents.get(key)
      if (known && known.operationName === operationName) {
        known.runs++
        return
      }
      documents.set(key, { document, operationName, runs: 1, compiled: undefined })
    },
    async answer(request, reply) {
      if (request.validationError) return false
      const query = request.query as GetQuerystring
      if (typeof query.query !== 'string' || query.extensions !== undefined || query.persisted !== undefined)
        return false
      if (!isOperationName(query.operationName)) return false
      const operationName = query.operationName ?? undefined
      const remembered = documents.get(keyOf(query.query, operationName))
      // The name is compared too: "query\n{ a }" alone and "{ a }" named "query" share a key.
      if (!remembered || remembered.operationName !== operationName || remembered.runs < 2) return false
      const variables = parseVariables(query.variables)
      if (variables === false) return false
      try {
        options.enforceLimits(remembered.document, variables)
      } catch {
        return false // mercurius checks again and answers with the error, exactly as it formats it
      }
      const compiled = compiledOf(remembered, options.schema)
      if (!compiled) return false
      const context = options.context(request, reply)
      // mercurius's hooks, which trace the operations it runs, do not run for this one: it is traced here.
      startOperationSpan(remembered.document, context, request)
      const { execution, stringify } = await run(compiled, context, variables ?? {}).catch(
        (error: unknown) => {
          endOperationSpan(
            { errors: [new GraphQLError('INTERNAL', { extensions: { code: 'INTERNAL' } })] },
            context,
          )
          throw error
        },
      )
      // No data at all: the variables did not coerce and nothing ran; mercurius reports it (and traces it).
      if (!('data' in execution)) {
        context.trace = undefined // never ended, never exported: mercurius's run is the operation's span
        return false
      }
      endOperationSpan(execution, context)
      answered++
      if (execution.errors) {
        const { statusCode, response } = options.finish(execution, { reply })
        reply.code(statusCode).send({ ...execution, data: response.data, errors: response.errors })
        return true
      }
      reply.type('application/json; charset=utf-8').send(stringify(execution))
      return true
    },
  }
}

/**
 * The copying run when its leaves are what graphql would send, else the serializing run. An error at a root
 * field, where every gateway resolver sits, does not send a request to the second run (it would wait out a
 * consistency timeout twice); a leaf value graphql serializes differently does, and then the read-only
 * resolvers run twice.
 */
async function run(
  compiled: Compiled,
  context: GatewayContext,
  variables: Record<string, unknown>,
): Promise<{ execution: ExecutionResult; stringify: (execution: ExecutionResult) => string }> {
  const { copying, serializing } = compiled
  if (copying) {
    const execution = await copying.query.query(root, context, variables)
    if (!('data' in execution) || copying.check(execution)) {
      return { execution, stringify: copying.query.stringify }
    }
  }
  return { execution: await serializing.query(root, context, variables), stringify: serializing.stringify }
}

function keyOf(query: string, operationName: string | undefined): string {
  return operationName === undefined ? query : `${operationName}\n${query}`
}

function isOperationName(value: unknown): value is string | null | undefined {
  return value === undefined || value === null || typeof value === 'string'
}

function compiledOf(remembered: Remembered, schema: GraphQLSchema): Compiled | false {
  if (remembered.compiled === undefined) {
    const { document, operationName } = remembered
    const options = { customJSONSerializer: true, customSerializers: builtInScalars }
    const serializing = compileQuery(schema, document, operationName, options)
    const check = compileResultCheck(schema, document, operationName)
    const copying = check && compileQuery(schema, document, operationName, { disableLeafSerialization: true })
    remembered.compiled = !isCompiledQuery(serializing)
      ? false
      : copying && isCompiledQuery(copying)
        ? { serializing, copying: { query: copying, check } }
        : { serializing }
  }
  return remembered.compiled
}

/** The variables of a GET as a plain object, undefined when absent, false when mercurius should judge them. */
function parseVariables(raw: unknown): Record<string, unknown> | undefined | false {
  if (raw === undefined) return undefined
  // secure-json-parse refuses these keys in mercurius; leave such requests to it.
  if (typeof raw !== 'string' || raw === '' || raw.includes('__proto__') || raw.includes('constructor'))
    return false
  try {
    const parsed: unknown = JSON.parse(raw)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : false
  } catch {
    return false
  }
}
