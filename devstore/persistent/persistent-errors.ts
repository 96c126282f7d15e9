import { Metadata, status, type ServiceError } from '@grpc/grpc-js'
import type { EngineError } from '../engine/engine-errors.ts'
import { engineFailure, trailersOf } from '../grpc/status-errors.ts'

/**
 * The errors the PersistentSubscriptions service answers with, each with the status code and the
 * `exception` trailer the client maps to its own error classes.
 */
export type PersistentError = Partial<ServiceError> & { code: status; details: string; metadata: Metadata }

/** Creating a group that exists: ALREADY_EXISTS, `persistent-subscription-exists`. */
export function subscriptionExists(stream: string, group: string): PersistentError {
  return groupError(
    status.ALREADY_EXISTS,
    'persistent-subscription-exists',
    stream,
    group,
    `Subscription group ${group} on stream ${stream} exists.`,
  )
}

/** Using a group that does not exist: NOT_FOUND, `persistent-subscription-does-not-exist`. */
export function subscriptionMissing(stream: string, group: string): PersistentError {
  return groupError(
    status.NOT_FOUND,
    'persistent-subscription-does-not-exist',
    stream,
    group,
    `Subscription group ${group} on stream ${stream} does not exist.`,
  )
}

/** Joining a group at its maxSubscriberCount: FAILED_PRECONDITION, `maximum-subscribers-reached`. */
export function maximumSubscribersReached(stream: string, group: string): PersistentError {
  return groupError(
    status.FAILED_PRECONDITION,
    'maximum-subscribers-reached',
    stream,
    group,
    `Maximum subscriptions reached for group ${group} on stream ${stream}.`,
  )
}

/** A consumer dropped by the server (group deleted or updated, subsystem restarted). */
export function subscriptionDropped(stream: string, group: string, reason: string): PersistentError {
  return groupError(
    status.CANCELLED,
    'persistent-subscription-dropped',
    stream,
    group,
    `Subscription group ${group} on stream ${stream} was dropped: ${reason}`,
  )
}

/**
 * The group's reader reached a damaged record (DATA_CORRUPT): the status a catch-up read that reaches it
 * ends with (INTERNAL, details "DATA_CORRUPT: ..."), which no retry mends.
 */
export function groupDamaged(damage: EngineError): PersistentError {
  return engineFailure(damage)
}

/** A request the service cannot make sense of. */
export function invalidArgument(message: string): PersistentError {
  return {
    name: 'InvalidArgument',
    message,
    code: status.INVALID_ARGUMENT,
    details: message,
    metadata: new Metadata(),
  }
}

/** The subsystem is restarting or the store is not open. */
export function notReady(message: string): PersistentError {
  return {
    name: 'Unavailable',
    message,
    code: status.UNAVAILABLE,
    details: message,
    metadata: new Metadata(),
  }
}

function groupError(
  code: status,
  exception: string,
  stream: string,
  group: string,
  message: string,
): PersistentError {
  const metadata = trailersOf({ exception, 'stream-name': stream, 'group-name': group })
  return { name: exception, message, code, details: message, metadata }
}
