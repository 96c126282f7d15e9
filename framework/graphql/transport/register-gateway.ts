import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  Kind,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql'
import mercurius from 'mercurius'
import { AnnalsError } from '../../errors.ts'
import { isAllowedOrigin } from '../guards/allowed-origin.ts'
import { bearerChallenge, type Authenticate } from '../guards/authenticate-request.ts'
import type { Principal } from '../guards/authorize-operation.ts'
import { buildGatewaySchema } from '../schema/build-gateway-schema.ts'
import { createDocumentGate, InvalidDocumentError } from '../guards/document-gate.ts'
import {
  countClientTimeouts,
  formatGraphQLError,
  statusOfRequestError,
  withoutSuggestions,
} from './format-graphql-error.ts'
import type { GatewayContext, GatewayDefinition, GatewayRuntime } from './gateway-context.ts'
import { enforceLimits, type GatewayLimits } from '../guards/gateway-limits.ts'
import { registerGraphiql } from './graphiql-routes.ts'
import { createRateLimiter } from '../guards/rate-limiter.ts'
import { createSubscriptionServer, type SubscriptionServer } from './subscription-server.ts'
import { endOperationSpan, startOperationSpan } from './trace-operation.ts'
import { tracingBypassed } from '../../tracing/tracer.ts'

export interface GatewayOptions {
  readonly definition: GatewayDefinition
  readonly runtime: GatewayRuntime
  readonly authenticate: Authenticate
  readonly limits: GatewayLimits
  readonly introspection: boolean
  readonly graphiql: boolean
  /**
   * Refuse POSTs that are not application/json, GETs without a preflight header, and WebSocket upgrades from
   * a foreign `Origin`. Default on.
   */
  readonly csrf: boolean
  /**
   * Browser origins (`https://app.example.com`) let in across sites: CORS (@fastify/cors) answers their
   * preflights, and their WebSocket upgrades are accepted. Default none: same origin only.
   */
  readonly allowedOrigins?: readonly string[]
  /** Where GraphQL is served, over HTTP and WebSocket. Default '/graphql'. */
  readonly path?: string
  /** True while the server drains: new operations get SHUTTING_DOWN. */
  readonly isDraining: () => boolean
  /** Whether a new WebSocket connection is refused because the server is saturated (shedUnderPressure). */
  readonly refusesConnection?: () => boolean
  readonly onSubscriptionsChange?: (active: number) => void
}

export interface Gateway {
  readonly schema: GraphQLSchema
  readonly subscriptions: SubscriptionServer
}

const principals = new WeakMap<FastifyRequest, Principal>()

/** Headers that make a request non-simple, so a browser cannot send it cross-site without a preflight. */
export const csrfHeaders = ['x-annals-csrf', 'graphql-require-preflight'] as const

/**
 * Serves the gateway on a fastify instance: mercurius (graphql-jit after the first run) for queries and
 * mutations over HTTP, graphql-ws for subscriptions, and the guards every request passes: draining,
 * authentication, the rate limit, the batch limit, CSRF, and depth/cost/alias limits before execution.
 */
export async function registerGateway(app: FastifyInstance, options: GatewayOptions): Promise<Gateway> {
  const path = options.path ?? '/graphql'
  const { limits } = options
  const schema = buildGatewaySchema(options.definition, options.runtime)
  const rateLimiter = limits.rateLimit ? createRateLimiter(limits.rateLimit) : undefined

  const limitOptions = { limits, introspection: options.introspection }
  const gate = createDocumentGate({ schema, ...limitOptions })
  const allowedOrigins = options.allowedOrigins ?? []
  if (allowedOrigins.length > 0) {
    const { default: cors } = await import('@fastify/cors')
    await app.register(cors, {
      origin: [...allowedOrigins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['content-type', 'authorization', ...csrfHeaders],
      maxAge: 600,
    })
  }
  const contextOf = (request: FastifyRequest): GatewayContext => ({
    principal: principals.get(request),
    requestId: request.id,
  })
  const finish = finishExecution(app, { suggestions: options.introspection })
  // Decided once: a gateway built under bypassTracing (the tracing-cost bench's baseline) has no tracing hooks.
  const traced = !tracingBypassed
  // A route hook on the GraphQL routes alone: no check of the URL on every request, nothing on GraphiQL's.
  const guard = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (options.isDraining()) throw new AnnalsError('SHUTTING_DOWN', 'The server is shutting down')
    const principal = await options.authenticate(request)
    if (principal) principals.set(request, principal)
    const operations = operationsOf(request)
    if (operations.length > limits.maxBatch) {
      throw new AnnalsError(
        'LIMIT_EXCEEDED',
        `A batch holds ${operations.length} operations, above the limit of ${limits.maxBatch}`,
      )
    }
    try {
      rateLimiter?.take(principal?.id ?? request.ip, operations.length)
    } catch (error) {
      const retryAfterMs = (error as AnnalsError).details?.['retryAfterMs']
      if (typeof retryAfterMs === 'number') void reply.header('retry-after', Math.ceil(retryAfterMs / 1000))
      throw error
    }
    if (request.validationError) {
      throw new AnnalsError('BAD_INPUT', `Not a GraphQL request: ${request.validationError.message}`)
    }
    for (const operation of operations) gate.admit({ ...operation, transport: 'http' })
  }

  await app.register(async (scope) => {
    await scope.register(mercurius, {
      schema,
      path,
      graphiql: false,
      jit: 1,
      cache: limits.maxCachedDocuments,
      // The gate counts tokens before mercurius parses; this bound holds should a document reach it otherwise.
      graphql: { parseOptions: { maxTokens: limits.maxTokens } },
      allowBatchedQueries: true,
      additionalRouteOptions: { preHandler: guard, serializerCompiler: () => serializeResponse },
      csrfPrevention: options.csrf ? { requiredHeaders: [...csrfHeaders] } : false,
      context: contextOf,
      errorFormatter: (execution, context) =>
        finish(execution, context as { reply?: FastifyReply }) as ReturnType<typeof finish> & {
          response: { errors: never }
        },
    })
    scope.graphql.addHook('preExecution', (executionSchema, document, context, variables) => {
      enforceLimits(executionSchema, document, variables as Record<string, unknown> | undefined, limitOptions)
      const request = (context as { reply?: FastifyReply }).reply?.request
      if (traced) startOperationSpan(document, context as unknown as GatewayContext, request)
      // mercurius keeps one compiled query per document, built for the operation of the request that compiled
      // it; handing the document back as "modified" makes it run the operation this request names instead.
      return Promise.resolve(hasSeveralOperations(document) ? { document } : undefined)
    })
    if (traced)
      scope.graphql.addHook('onResolution', (execution, context) => {
        endOperationSpan(execution, context as unknown as GatewayContext)
        return Promise.resolve()
      })
  })

  if (options.graphiql) registerGraphiql(app, { endpoint: path })

  const subscriptions = createSubscriptionServer({
    schema,
    path,
    limits,
    introspection: options.introspection,
    authenticate: options.authenticate,
    authorization: options.runtime.authorization,
    rateLimiter,
    gate,
    log: app.log,
    ...(options.onSubscriptionsChange ? { onActiveChange: options.onSubscriptionsChange } : {}),
  })
  app.server.on('upgrade', (request, socket, head) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname
    if (pathname !== path || options.isDraining())
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
    // A page on another site could otherwise run mutations with the credentials the browser holds for us.
    else if (options.csrf && !isAllowedOrigin(request.headers, allowedOrigins))
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n')
    else if (options.refusesConnection?.())
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\r\n')
    else subscriptions.handleUpgrade(request, socket, head)
  })
  return { schema, subscriptions }
}

/**
 * What the gateway answers for an execution with errors: each error formatted with its code (validation
 * errors unwrapped one by one), and the status of the first when nothing ran, else 200.
 */
function finishExecution(app: FastifyInstance, options: { readonly suggestions: boolean }) {
  return (execution: ExecutionResult, context: { readonly reply?: FastifyReply }) => {
    const request = context.reply?.request
    const reporter = {
      requestId: request?.id ?? 'unknown',
      error: (request?.log ?? app.log).error.bind(request?.log ?? app.log),
    }
    const errors = (execution.errors ?? []).flatMap((error) => {
      const nested = (error.originalError as { errors?: unknown } | undefined)?.errors
      return Array.isArray(nested) &&
        (error.originalError as { code?: string }).code === 'MER_ERR_GQL_VALIDATION'
        ? (nested as unknown[])
        : [error]
    })
    // The gate's refusals come formatted: they are cached as plain messages, without the document.
    const formatted = errors.flatMap((error) => {
      const cause = (error as { originalError?: unknown }).originalError
      const shown =
        cause instanceof InvalidDocumentError ? cause.errors : [formatGraphQLError(error, reporter)]
      return options.suggestions
        ? shown
        : shown.map((one) => ({ ...one, message: withoutSuggestions(one.message) }))
    })
    const timeouts = countClientTimeouts(formatted)
    if (timeouts > 0) {
      ;(request?.log ?? app.log).info(
        { requestId: reporter.requestId, code: 'CONSISTENCY_TIMEOUT', fields: timeouts },
        'A read waited out its consistency token',
      )
    }
    const executed = execution.data != null || formatted.some((error) => error.path !== undefined)
    const shed = overloadRetryMs(execution, formatted)
    if (shed !== undefined) void context.reply?.header('retry-after', String(Math.ceil(shed / 1000)))
    const statusCode =
      shed !== undefined
        ? 503
        : executed
          ? (refusalStatus(execution, formatted) ?? 200)
          : (clientStatusOf(errors[0]) ?? statusOfRequestError(formatted[0]))
    // A 401 must say how to authenticate (RFC 9110 §11.6.1): refused credentials and refused operations alike.
    if (statusCode === 401 && context.reply) {
      void context.reply.header(
        'www-authenticate',
        bearerChallenge(context.reply.request.headers.authorization),
      )
    }
    return { statusCode, response: { data: execution.data ?? null, errors: formatted as never } }
  }
}

/**
 * When every error is OVERLOADED and no field got an answer, the request as a whole was shed: it is answered
 * 503 with the longest wait asked for, so HTTP clients and proxies back off without reading the body.
 */
function overloadRetryMs(
  execution: ExecutionResult,
  formatted: readonly GraphQLFormattedError[],
): number | undefined {
  if (formatted.length === 0 || formatted.some((error) => error.extensions?.['code'] !== 'OVERLOADED')) {
    return undefined
  }
  if (Object.values(execution.data ?? {}).some((value) => value != null)) return undefined
  return Math.max(...formatted.map((error) => Number(error.extensions?.['retryAfterMs'] ?? 1000)))
}

/**
 * GET answers as POST does, with plain JSON: mercurius's GET response schema would cost a validation and a
 * generated serializer per response, and turn the list indices of an error's path into strings.
 */
function serializeResponse(response: unknown): string {
  return JSON.stringify(response)
}

/** The status fastify or mercurius gave a request error (413 body too large, 405 GET mutation), if any. */
function clientStatusOf(error: unknown): number | undefined {
  const cause = (error as { originalError?: unknown } | undefined)?.originalError ?? error
  const status = (cause as { statusCode?: unknown } | undefined)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined
}

/** The operations of a request: the body, each element of a batched body, or the query string of a GET. */
function operationsOf(request: FastifyRequest): readonly Record<string, unknown>[] {
  const payload = request.method === 'GET' ? request.query : request.body
  if (Array.isArray(payload)) return payload as Record<string, unknown>[]
  return [typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {}]
}

/**
 * 401 or 403 when authorization refused the operation and nothing else came of it (no data at all), as
 * docs/errors.md says: the caller learns from the status alone that it must sign in or may not. An operation
 * that returned data answers 200 with its field errors, as GraphQL over HTTP has it.
 */
function refusalStatus(
  execution: ExecutionResult,
  errors: readonly GraphQLFormattedError[],
): number | undefined {
  if (execution.data != null && Object.values(execution.data).some((value) => value != null)) return undefined
  const codes = new Set(errors.map((error) => error.extensions?.['code']))
  if (codes.size !== 1) return undefined
  if (codes.has('UNAUTHENTICATED')) return 401
  if (codes.has('FORBIDDEN')) return 403
  return undefined
}

function hasSeveralOperations(document: DocumentNode): boolean {
  let operations = 0
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION && ++operations > 1) return true
  }
  return false
}
