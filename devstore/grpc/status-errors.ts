/**
 * The errors the devstore returns, shaped as EventStoreDB shapes them: a gRPC status plus the `exception`
 * trailer (and its companions) that @eventstore/db-client turns into its typed errors; for BatchAppend a
 * google.rpc.Status with a packed detail message instead.
 */
import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { ExpectedRevision } from '../engine/engine.ts'
import { EngineError, InvalidPositionError } from '../engine/engine-errors.ts'
import {
  Any,
  MaximumAppendSizeExceeded,
  Status,
  StreamDeleted,
  StreamIdentifier,
  Timeout,
  WrongExpectedVersion,
  GoogleEmpty,
} from './protocol.ts'
import { RequestRefused } from './request-refused.ts'

type StatusInstance = InstanceType<typeof Status>

/** A grpc-js error for `callback(error)` or `call.emit('error', error)`, with trailers. */
export function serviceError(
  code: status,
  details: string,
  trailers: Record<string, string> = {},
): ServiceError {
  const metadata = new Metadata()
  for (const [key, value] of Object.entries(trailers)) metadata.set(key, value)
  return Object.assign(new Error(details), { code, details, metadata })
}

export function unavailable(details = 'Server not ready'): ServiceError {
  return serviceError(status.UNAVAILABLE, details)
}

export function streamDeletedError(stream: string): ServiceError {
  return serviceError(status.FAILED_PRECONDITION, `Event stream '${stream}' is deleted.`, {
    exception: 'stream-deleted',
    'stream-name': stream,
  })
}

/** Delete and Tombstone: FAILED_PRECONDITION; the client reads `expected-version` as a number. */
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
  if (actual !== undefined) trailers['actual-version'] = actual.toString()
  return serviceError(
    status.FAILED_PRECONDITION,
    `Append failed due to WrongExpectedVersion. Stream: ${stream}, Expected version: ${String(expected)}, Actual version: ${actual ?? -1}`,
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

/** An error the engine threw, as the client should see it: a bad position is the caller's fault, the rest is not being ready. */
export function engineFailure(error: unknown): ServiceError {
  if (error instanceof RequestRefused) return error.error
  if (error instanceof Error && 'metadata' in error && error.metadata instanceof Metadata)
    return error as ServiceError
  if (error instanceof InvalidPositionError) return invalidArgument(error.message)
  if (error instanceof EngineError) return unavailable(error.message)
  return serviceError(status.INTERNAL, error instanceof Error ? error.message : String(error))
}
