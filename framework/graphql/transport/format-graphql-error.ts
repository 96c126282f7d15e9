import { GraphQLError, type GraphQLFormattedError } from 'graphql'
import { AnnalsError, errorCodes, type ErrorCode } from '../../errors.ts'

/** Where INTERNAL errors are logged, with the request id that the client's message quotes. */
export interface ErrorReporter {
  readonly requestId: string
  error(object: Record<string, unknown>, message: string): void
}

/**
 * Turns any error into what a client may see: every error carries `extensions.code`. Annals errors keep
 * their code, message and safe details (the zod issues of BAD_INPUT); GraphQL's own syntax, validation and
 * variable errors are BAD_INPUT; a body over the limit is LIMIT_EXCEEDED; anything else is INTERNAL with
 * neither its message nor its stack, which go to the log under the request id.
 */
export function formatGraphQLError(error: unknown, reporter: ErrorReporter): GraphQLFormattedError {
  const graphQLError = error instanceof GraphQLError ? error : undefined
  const cause = graphQLError ? graphQLError.originalError : error
  const where = {
    ...(graphQLError?.locations ? { locations: graphQLError.locations } : {}),
    ...(graphQLError?.path ? { path: graphQLError.path } : {}),
  }
  if (cause instanceof AnnalsError) {
    if (isServerFault(cause.code))
      reporter.error({ err: cause, requestId: reporter.requestId }, cause.message)
    const message = cause.code === 'INTERNAL' ? internalMessage(reporter) : cause.message
    return { message, ...where, extensions: { code: cause.code, ...(cause.details ?? {}) } }
  }
  if (graphQLError && (cause === undefined || cause instanceof GraphQLError)) {
    return { message: graphQLError.message, ...where, extensions: { code: 'BAD_INPUT' } }
  }
  const clientFault = clientFaultOf(cause)
  if (clientFault) return { message: clientFault.message, ...where, extensions: { code: clientFault.code } }
  reporter.error({ err: cause, requestId: reporter.requestId }, 'Unexpected error in a GraphQL operation')
  return { message: internalMessage(reporter), ...where, extensions: { code: 'INTERNAL' } }
}

/** The HTTP status for a response that failed before execution (no data, no path): its code's status. */
export function statusOfRequestError(error: GraphQLFormattedError | undefined): number {
  const code = error?.extensions?.['code']
  const known =
    typeof code === 'string' && code in errorCodes ? errorCodes[code as ErrorCode].http : undefined
  return known ?? 400
}

/**
 * Answered with a 5xx status but no fault of the server's: a read that timed out waiting for its token is the
 * client's bound running out (and a client can cause many), so it is logged once per request at info, without
 * a stack, by whoever finishes the request (see countClientTimeouts), not here as an error.
 */
const clientTimeouts: ReadonlySet<string> = new Set<ErrorCode>(['CONSISTENCY_TIMEOUT'])

/** How many of a request's formatted errors are client timeouts: the caller logs them once, at info. */
export function countClientTimeouts(errors: readonly GraphQLFormattedError[]): number {
  let count = 0
  for (const error of errors) {
    const code = error.extensions?.['code']
    if (typeof code === 'string' && clientTimeouts.has(code)) count++
  }
  return count
}

/** A 5xx code is logged at error, except a client's timeout (above) and a shed command: refusing the excess is the server working as designed. */
function isServerFault(code: string): boolean {
  return (
    code !== 'OVERLOADED' &&
    code in errorCodes &&
    errorCodes[code as ErrorCode].http >= 500 &&
    !clientTimeouts.has(code)
  )
}

function internalMessage(reporter: ErrorReporter): string {
  return `Internal error; the server log has the details under request ${reporter.requestId}`
}

/** Errors fastify and mercurius raise for a bad request (body too large, CSRF, GET mutation, bad JSON). */
function clientFaultOf(cause: unknown): { code: string; message: string } | undefined {
  if (!(cause instanceof Error)) return undefined
  const { statusCode, code } = cause as Error & { statusCode?: unknown; code?: unknown }
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined
  if (statusCode === 413 || code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return { code: 'LIMIT_EXCEEDED', message: 'The request body exceeds the size limit' }
  }
  const nested = (cause as { errors?: unknown }).errors
  const first = Array.isArray(nested) && nested[0] instanceof Error ? nested[0].message : undefined
  return { code: 'BAD_INPUT', message: first ?? cause.message }
}

/**
 * Drops graphql-js's "Did you mean …?" from a message: it names fields, arguments and types close to a
 * misspelt one, which is the schema that turning introspection off hides.
 */
export function withoutSuggestions(message: string): string {
  return message.replace(/ Did you mean [^?]*\?/g, '')
}
