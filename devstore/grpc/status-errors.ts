/**
 * The errors the devstore returns, shaped as EventStoreDB shapes them: a gRPC status plus the `exception`
 * trailer (and its companions) that @eventstore/db-client turns into its typed errors; for BatchAppend a
 * google.rpc.Status with a packed detail message instead.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { ExpectedRevision } from '../engine/engine.ts'
import { EngineError, InvalidPositionError } from '../engine/engine-errors.ts'
import {
  AccessDenied,
  Any,
  MaximumAppendSizeExceeded,
  Status,
  StreamDeleted,
  StreamIdentifier,
  Timeout,
  Unknown,
  WrongExpectedVersion,
  GoogleEmpty,
} from './protocol.ts'
import type { EndReason } from './open-calls.ts'
import { RequestRefused } from './request-refused.ts'

type StatusInstance = InstanceType<typeof Status>

/** A grpc-js error for `callback(error)` or `call.emit('error', error)`, with trailers. */
export function serviceError(
  code: status,
  details: string,
  trailers: Record<string, string> = {},
): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: trailersOf(trailers) })
}

/**
 * Trailers as gRPC carries them. EventStoreDB writes stream and group names into ASCII trailers as they
 * are, which no gRPC server can send when a name is not printable ASCII (grpc-js throws, Kestrel refuses);
 * the devstore percent-encodes those characters (UTF-8), so the client still gets its typed error.
 */
export function trailersOf(trailers: Readonly<Record<string, string>>): Metadata {
  const metadata = new Metadata()
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, asciiTrailer(value))
  return metadata
}

function asciiTrailer(value: string): string {
  if (/^[ -~]*$/.test(value)) return value
  return value.replace(/[^ -~]+/g, (run) =>
    [...Buffer.from(run, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join(''),
  )
}

export function unavailable(details = 'Server not ready'): ServiceError {
  return serviceError(status.UNAVAILABLE, details)
}

/**
 * A streaming call the server ends because it stops: EventStoreDB resets such calls (RST_STREAM CANCEL),
 * which the client raises as CancelledError; an explicit CANCELLED status reads the same to it.
 */
export function cancelledByShutdown(): ServiceError {
  return serviceError(status.CANCELLED, 'The server is shutting down')
}

/** How a server-side end of a streaming call reads: CANCELLED on shutdown, UNAVAILABLE when dropped. */
export function endedByServer(reason: EndReason): ServiceError {
  return reason === 'shutdown' ? cancelledByShutdown() : unavailable('Subscription dropped by the server')
}

/** A write past the commit timeout: ABORTED, which the client raises as TimeoutError. */
export function commitTimedOut(): ServiceError {
  return serviceError(
    status.ABORTED,
    'Operation timed out: the write did not commit within the commit timeout',
  )
}

/** A principal the ACLs or policies refuse: PERMISSION_DENIED, `exception: access-denied` (AccessDeniedError). */
export function accessDenied(): ServiceError {
  return serviceError(status.PERMISSION_DENIED, 'Access Denied', { exception: 'access-denied' })
}

/** Credentials that name no user: UNAUTHENTICATED without an `exception` (the client's AccessDeniedError too). */
export function unauthenticated(): ServiceError {
  return serviceError(status.UNAUTHENTICATED, 'Unauthenticated')
}

/** BatchAppend: PERMISSION_DENIED with an AccessDenied detail. */
export function accessDeniedStatus(): StatusInstance {
  return packedStatus(
    status.PERMISSION_DENIED,
    'Access Denied',
    new AccessDenied(),
    'event_store.client.AccessDenied',
  )
}

export function streamDeletedError(stream: string): ServiceError {
  return serviceError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  })
}

/** Delete and Tombstone: FAILED_PRECONDITION; the client reads `expected-version` as a number, an empty `actual-version` as no stream. */
export function wrongExpectedVersionError(
  stream: string,
  expected: ExpectedRevision,
  actual: bigint | undefined,
): ServiceError {
  const trailers: Record<string, string> = {
    exception: 'wrong-expected-version',
    'stream-name': stream,
    'expected-version': expectedAsNumber(expected).toString(),
  }
  trailers['actual-version'] = actual === undefined ? '' : actual.toString()
  return serviceError(
    status.FAILED_PRECONDITION,
    `Delete failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ${expectedAsNumber(expected)}, Actual version: ${actual ?? -1}`,
    trailers,
  )
}

export function maximumAppendSizeError(max: number): ServiceError {
  return serviceError(status.INVALID_ARGUMENT, `Maximum Append Size of ${max} Exceeded.`, {
    exception: 'maximum-append-size-exceeded',
    'maximum-append-size': String(max),
  })
}

export function invalidArgument(details: string): ServiceError {
  return serviceError(status.INVALID_ARGUMENT, details)
}

/** BatchAppend: ALREADY_EXISTS with a WrongExpectedVersion detail. */
export function wrongExpectedVersionStatus(
  expected: ExpectedRevision,
  actual: bigint | undefined,
): StatusInstance {
  const detail = new WrongExpectedVersion()
  if (actual === undefined) detail.setCurrentNoStream(new GoogleEmpty())
  else detail.setCurrentStreamRevision(actual.toString())
  if (expected === 'any') detail.setExpectedAny(new GoogleEmpty())
  else if (expected === 'no_stream') detail.setExpectedNoStream(new GoogleEmpty())
  else if (expected === 'stream_exists') detail.setExpectedStreamExists(new GoogleEmpty())
  else detail.setExpectedStreamPosition(expected.toString())
  return packedStatus(
    status.ALREADY_EXISTS,
    'WrongExpectedVersion',
    detail,
    'event_store.client.WrongExpectedVersion',
  )
}

/** BatchAppend: NOT_FOUND with a StreamDeleted detail. */
export function streamDeletedStatus(stream: string): StatusInstance {
  const detail = new StreamDeleted()
  const identifier = new StreamIdentifier()
  identifier.setStreamName(Buffer.from(stream, 'utf8'))
  detail.setStreamIdentifier(identifier)
  return packedStatus(
    status.NOT_FOUND,
    `Event stream '${stream}' is deleted.`,
    detail,
    'event_store.client.StreamDeleted',
  )
}

/** BatchAppend: INVALID_ARGUMENT with a MaximumAppendSizeExceeded detail. */
export function maximumAppendSizeStatus(max: number): StatusInstance {
  const detail = new MaximumAppendSizeExceeded()
  detail.setMaxappendsize(max)
  return packedStatus(
    status.INVALID_ARGUMENT,
    `Maximum Append Size of ${max} Exceeded.`,
    detail,
    'event_store.client.MaximumAppendSizeExceeded',
  )
}

/** BatchAppend: DEADLINE_EXCEEDED with a Timeout detail. */
export function timeoutStatus(): StatusInstance {
  return packedStatus(status.DEADLINE_EXCEEDED, 'Timeout', new Timeout(), 'event_store.client.Timeout')
}

function packedStatus(
  code: status,
  message: string,
  detail: { serializeBinary(): Uint8Array },
  typeName: string,
): StatusInstance {
  const details = new Any()
  details.pack(detail.serializeBinary(), typeName)
  const result = new Status()
  result.setCode(code as number)
  result.setMessage(message)
  result.setDetails(details)
  return result
}

function expectedAsNumber(expected: ExpectedRevision): bigint {
  if (expected === 'any') return -2n
  if (expected === 'no_stream') return -1n
  if (expected === 'stream_exists') return -4n
  return expected
}

/**
 * An error the engine threw, as the client should see it on a call: a bad position is the caller's fault
 * (INVALID_ARGUMENT); a closed or failed engine, or a locked data directory, is a server not ready
 * (UNAVAILABLE: the client reconnects and the caller may retry); a damaged log (DATA_CORRUPT: a record that
 * fails its checksum on a read), or anything unexpected, is INTERNAL, which no retry mends. An engine
 * error's details start with its code; the client raises INTERNAL as UnknownError with those details.
 */
export function engineFailure(error: unknown): ServiceError {
  if (error instanceof RequestRefused) return error.error
  if (error instanceof Error && 'metadata' in error && error.metadata instanceof Metadata)
    return error as ServiceError
  return serviceError(engineStatusOf(error), messageOf(error))
}

/**
 * BatchAppend: an engine failure answered on its own request, so that the call and the other requests on
 * it carry on. The client unpacks only the detail: a server not ready travels with a Timeout detail (the
 * client's DeadlineExceededError: not confirmed, retry with the same event ids, which cannot append
 * twice), since the client knows no per-request "unavailable"; anything else with an Unknown detail.
 */
export function engineFailureStatus(error: unknown): StatusInstance {
  const code = engineStatusOf(error)
  if (code === status.UNAVAILABLE) return notReadyStatus(messageOf(error))
  return packedStatus(code, messageOf(error), new Unknown(), 'event_store.client.Unknown')
}

/** BatchAppend: one request refused because the server is not ready (see engineFailureStatus). */
export function notReadyStatus(details = 'Server Is Not Ready'): StatusInstance {
  return packedStatus(status.UNAVAILABLE, details, new Timeout(), 'event_store.client.Timeout')
}

/** The status of an engine failure, by its stable code. */
function engineStatusOf(error: unknown): status {
  if (error instanceof InvalidPositionError) return status.INVALID_ARGUMENT
  if (!(error instanceof EngineError)) return status.INTERNAL
  switch (error.code) {
    case 'INVALID_POSITION':
      return status.INVALID_ARGUMENT
    case 'ENGINE_CLOSED':
    case 'ENGINE_FAILED':
    case 'DATA_DIR_LOCKED':
      return status.UNAVAILABLE
    case 'DATA_CORRUPT':
      return status.INTERNAL
  }
}

// An engine error's stable code leads its message, so the client's error names it (DATA_CORRUPT: ...).
function messageOf(error: unknown): string {
  if (error instanceof EngineError) return `${error.code}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
