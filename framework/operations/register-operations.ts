import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { execute, parse, validate, type DocumentNode, type GraphQLFormattedError } from 'graphql'
import { formatGraphQLError, statusOfRequestError } from '../graphql/transport/format-graphql-error.ts'
import type { Cluster } from '../sharding/cluster.ts'
import { carriesSecret } from '../sharding/wire/peer-client.ts'
import {
  createOperationsResolvers,
  type OperationsContext,
  type OperationsTarget,
} from './operations-resolvers.ts'
import { OPERATIONS_PATH, operationsSchema } from './operations-schema.ts'

/** An operations request is a small document: larger bodies are refused before they are read. */
const MAX_BODY_BYTES = 64 * 1024
const MAX_QUERY_LENGTH = 16 * 1024

export interface OperationsOptions {
  readonly target: OperationsTarget
  /** The bearer token operators send (ANNALS_OPS_TOKEN); the cluster secret is accepted too. */
  readonly token: string | undefined
  /** A sharded service's cluster: its secret is a credential here too. */
  readonly cluster: Cluster | undefined
  /** In production the endpoint is absent unless a credential is configured. */
  readonly production: boolean
}

/** Whether the endpoint was mounted, and whether it asks for a credential. */
export type OperationsMount = 'authenticated' | 'open' | 'absent'

/**
 * Mounts the operations endpoint (POST /ops/graphql, its own schema: operations-schema.ts). With a token or a
 * cluster secret configured, every request must carry one as `Authorization: Bearer …`, checked before the
 * body is read (401 UNAUTHENTICATED otherwise); without either it is open outside production and absent in
 * production.
 */
export function registerOperations(app: FastifyInstance, options: OperationsOptions): OperationsMount {
  const { token, cluster } = options
  const secured = token !== undefined || cluster?.secured === true
  if (!secured && options.production) return 'absent'
  const resolvers = createOperationsResolvers(options.target)

  const authenticate = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!secured) return
    const header = request.headers.authorization
    if ((token !== undefined && carriesSecret(header, token)) || cluster?.carriesSecret(header)) return
    const message = 'The operations endpoint needs the ops token or the cluster secret as a Bearer token'
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="annals-ops"')
      .send({ errors: [{ message, extensions: { code: 'UNAUTHENTICATED' } }] })
  }

  app.post(
    OPERATIONS_PATH,
    {
      onRequest: authenticate,
      bodyLimit: MAX_BODY_BYTES,
      // A body fastify cannot read (bad JSON, too large, another media type) is answered like the rest: coded.
      errorHandler: (error, request, reply) => {
        const formatted = formatGraphQLError(error, reporterOf(request))
        void reply.code(statusOfRequestError(formatted)).send({ errors: [formatted] })
      },
    },
    async (request, reply) => {
      const reporter = reporterOf(request)
      const refuse = (errors: readonly GraphQLFormattedError[]) =>
        reply.code(statusOfRequestError(errors[0])).send({ errors })
      const body = readBody(request.body)
      if (typeof body === 'string') return refuse([{ message: body, extensions: { code: 'BAD_INPUT' } }])
      let document: DocumentNode
      try {
        document = parse(body.query)
      } catch (error) {
        return refuse([formatGraphQLError(error, reporter)])
      }
      const schema = operationsSchema()
      const invalid = validate(schema, document)
      if (invalid.length > 0) return refuse(invalid.map((error) => formatGraphQLError(error, reporter)))
      const result = await execute({
        schema,
        document,
        rootValue: resolvers,
        contextValue: {
          log: request.log,
          forwarded: body.forwardedBy !== undefined,
        } satisfies OperationsContext,
        ...(body.variables ? { variableValues: body.variables } : {}),
        ...(body.operationName ? { operationName: body.operationName } : {}),
      })
      const errors = result.errors?.map((error) => formatGraphQLError(error, reporter))
      // Variables that do not fit (no data at all) failed before anything ran: the code's status.
      if (errors && result.data === undefined) return refuse(errors)
      return { data: result.data ?? null, ...(errors ? { errors } : {}) }
    },
  )
  return secured ? 'authenticated' : 'open'
}

/** Where an unexpected error of a request is logged, under the request id its INTERNAL answer quotes. */
function reporterOf(request: FastifyRequest) {
  return {
    requestId: request.id,
    error: (object: Record<string, unknown>, message: string) => request.log.error(object, message),
  }
}

interface OperationsRequest {
  readonly query: string
  readonly variables?: Record<string, unknown>
  readonly operationName?: string
  /** Set by a replica that forwarded a projection's control here: it is not forwarded again. */
  readonly forwardedBy?: string
}

/** The request's JSON body, or why it is not a GraphQL request. */
function readBody(body: unknown): OperationsRequest | string {
  const { query, variables, operationName, forwardedBy } = (body ?? {}) as Record<string, unknown>
  if (typeof query !== 'string' || query.length === 0) {
    return 'Send a JSON body with a GraphQL document in "query"'
  }
  if (query.length > MAX_QUERY_LENGTH) return `The document is longer than ${MAX_QUERY_LENGTH} characters`
  if (
    variables !== undefined &&
    variables !== null &&
    (typeof variables !== 'object' || Array.isArray(variables))
  ) {
    return '"variables" must be an object'
  }
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
    return '"operationName" must be a string'
  }
  return {
    query,
    ...(variables ? { variables: variables as Record<string, unknown> } : {}),
    ...(typeof operationName === 'string' ? { operationName } : {}),
    ...(typeof forwardedBy === 'string' ? { forwardedBy } : {}),
  }
}
