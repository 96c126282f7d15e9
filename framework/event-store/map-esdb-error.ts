import {
  convertToCommandError,
  ErrorType,
  isCommandError,
  StreamDeletedError as EsdbStreamDeletedError,
  WrongExpectedVersionError,
} from '@eventstore/db-client'
import {
  AnnalsError,
  ConcurrencyConflictError,
  StoreUnavailableError,
  StreamDeletedError,
} from '../errors.ts'

/** What the adapter was doing when the client failed, for the message and the conflict's stream name. */
export interface EsdbOperation {
  readonly action: string
  readonly streamName?: string
}

/** Client error types that mean "the store cannot be reached or is not ready now": retry later. */
const unavailableTypes: ReadonlySet<string> = new Set([
  ErrorType.UNAVAILABLE,
  ErrorType.DEADLINE_EXCEEDED,
  ErrorType.TIMEOUT,
  ErrorType.NOT_LEADER,
  ErrorType.CANCELLED,
])

/** Node socket errors seen when the endpoint is down or unreachable before gRPC gets a status. */
const connectionErrorCodes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
])

/**
 * Translates an error thrown by @eventstore/db-client into the Annals error a caller catches:
 * WrongExpectedVersion becomes ConcurrencyConflictError, StreamDeleted becomes StreamDeletedError,
 * unavailability and connection failures become StoreUnavailableError, anything else INTERNAL with the cause.
 */
export function mapEsdbError(thrown: unknown, operation: EsdbOperation): AnnalsError {
  if (thrown instanceof AnnalsError) return thrown
  // Some calls (the server-features probe before an append) throw the raw gRPC error; classify it as the client does.
  const error = thrown instanceof Error ? convertToCommandError(thrown) : thrown
  if (error instanceof WrongExpectedVersionError) {
    const streamName = operation.streamName ?? error.streamName
    return new ConcurrencyConflictError(
      streamName,
      error.expectedVersion,
      typeof error.actualVersion === 'bigint' ? error.actualVersion : undefined,
      { cause: error },
    )
  }
  if (error instanceof EsdbStreamDeletedError) {
    return new StreamDeletedError(operation.streamName ?? error.streamName, { cause: error })
  }
  if (error instanceof Error && isCommandError(error) && unavailableTypes.has(error.type)) {
    return new StoreUnavailableError(
      `The event store is unavailable (${operation.action}): ${error.message}`,
      {
        cause: error,
      },
    )
  }
  if (isConnectionError(error)) {
    return new StoreUnavailableError(`The event store cannot be reached (${operation.action})`, {
      cause: error,
    })
  }
  const corrupt = damagedRecordDetails(error)
  if (corrupt !== undefined) {
    return new AnnalsError('DATA_CORRUPT', `The event store failed to ${operation.action}: ${corrupt}`, {
      cause: error,
    })
  }
  const detail = error instanceof Error ? error.message : String(error)
  return new AnnalsError('INTERNAL', `The event store failed to ${operation.action}: ${detail}`, {
    cause: error,
  })
}

function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && connectionErrorCodes.has(code)
}

/**
 * The details of an INTERNAL status the devstore sends when a read reaches a record damaged on disk
 * (grpc-js words it "13 INTERNAL: DATA_CORRUPT: ..."), so the caller gets that code rather than INTERNAL.
 */
function damagedRecordDetails(error: unknown): string | undefined {
  if (!(error instanceof Error) || !isCommandError(error) || error.type !== ErrorType.UNKNOWN)
    return undefined
  return /^\d+ INTERNAL: DATA_CORRUPT: (.*)$/s.exec(error.message)?.[1]
}
