/**
 * Every error Annals raises carries a stable code. The code crosses the wire (GraphQL `extensions.code`,
 * HTTP status) while the class is what TypeScript code catches.
 */
export const errorCodes = {
  BAD_INPUT: { http: 400, meaning: 'The input does not match its schema; the zod issues say where.' },
  UNKNOWN_COMMAND: { http: 400, meaning: 'No aggregate declares a command of that name.' },
  DOMAIN_ERROR: { http: 422, meaning: 'A decide function refused the command without a code of its own.' },
  INVALID_EVENT: {
    http: 500,
    meaning:
      'A decide function produced an event its aggregate does not declare or whose data fails its schema.',
  },
  UNKNOWN_EVENT_TYPE: { http: 500, meaning: 'A stored event has a type the aggregate does not declare.' },
  MALFORMED_EVENT: {
    http: 500,
    meaning:
      'A stored event cannot be read: its data fails its schema or no upcaster reaches the current version.',
  },
  COMMAND_ID_REUSED: {
    http: 409,
    meaning:
      'The command id was already used for another command, another input or another aggregate; nothing was appended.',
  },
  CONCURRENCY_CONFLICT: {
    http: 409,
    meaning: 'The stream moved on under the command more often than the retry bound allows.',
  },
  STREAM_DELETED: { http: 410, meaning: 'The stream was tombstoned and takes no more events.' },
  STORE_UNAVAILABLE: {
    http: 503,
    meaning: 'The event store or the read-model database cannot be reached or is not ready.',
  },
  CONSISTENCY_TIMEOUT: {
    http: 504,
    meaning: 'The read model did not reach the consistency token within the bound.',
  },
  TOKEN_BEYOND_HEAD: {
    http: 400,
    meaning: 'The consistency token is beyond the head of the log: no append of this service returned it.',
  },
  CHANGES_EXPIRED: {
    http: 410,
    meaning:
      'The change feed no longer holds the changes after that position; read the rows again and follow from their position.',
  },
  SCHEDULE_OUT_OF_RANGE: {
    http: 400,
    meaning:
      'A command was scheduled more than five minutes in the past or more than 366 days ahead of the service clock.',
  },
  SCHEDULE_NOT_PENDING: {
    http: 409,
    meaning:
      'The scheduled command has fired already (it cannot be cancelled) or was cancelled (it will not fire).',
  },
  NOT_FOUND: { http: 404, meaning: 'The row, projection or resource asked for does not exist.' },
  UNAUTHENTICATED: { http: 401, meaning: 'The request carries no valid credentials.' },
  FORBIDDEN: { http: 403, meaning: 'The principal may not perform this operation.' },
  RATE_LIMITED: {
    http: 429,
    meaning: 'Too many operations from this client; the Retry-After header says when to retry.',
  },
  LIMIT_EXCEEDED: {
    http: 400,
    meaning: 'The GraphQL document exceeds a length, token, nesting, depth, cost, alias or batch limit.',
  },
  BAD_CONFIG: { http: 500, meaning: 'The configuration is invalid; the message names the setting.' },
  SHUTTING_DOWN: { http: 503, meaning: 'The server is draining and takes no new work.' },
  OVERLOADED: {
    http: 503,
    meaning:
      'More commands are queued than the bound allows (on this replica, or for this aggregate), or the replica is saturated; the command was refused before any work, nothing was appended.',
  },
  OWNER_UNAVAILABLE: {
    http: 503,
    meaning: 'The replica that owns the aggregate could not be reached in time.',
  },
  DATA_CORRUPT: {
    http: 500,
    meaning:
      'The devstore log has a record damaged on disk: an open refuses and changes nothing, a read that reaches it fails after the events before it.',
  },
  DATA_DIR_LOCKED: {
    http: 500,
    meaning: 'Another live process holds the devstore data directory.',
  },
  PORT_IN_USE: {
    http: 500,
    meaning: 'Another process already listens on the host and port the devstore was asked to serve on.',
  },
  RETRY_FAILED: {
    http: 409,
    meaning: "A dead letter's event failed again when retried; it stays a dead letter with the new error.",
  },
  INTERNAL: {
    http: 500,
    meaning: 'An unexpected failure; details are in the server log under the request id.',
  },
} as const

export type ErrorCode = keyof typeof errorCodes

/** Whether a code read from the wire or another package is one of Annals' own. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(errorCodes, code)
}

/** The base of every error Annals throws; `code` is stable and safe to show to clients. */
export class AnnalsError extends Error {
  override readonly name: string = 'AnnalsError'
  /** One of `errorCodes`; a DomainError's code is the domain's own. */
  readonly code: string
  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    if (options?.details) this.details = options.details
  }
  /** Safe, structured facts for clients (zod issues, revisions); never internals. */
  readonly details?: Record<string, unknown>
}

/** Thrown by a decide function to refuse a command; the code is the domain's own (e.g. BATTERY_EMPTY). */
export class DomainError extends AnnalsError {
  override readonly name = 'DomainError'
  override readonly code: string
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super('DOMAIN_ERROR', message, details ? { details } : undefined)
    this.code = code
  }
}

export class BadInputError extends AnnalsError {
  override readonly name = 'BadInputError'
  constructor(
    message: string,
    readonly issues: readonly { path: readonly PropertyKey[]; message: string; code?: string }[],
  ) {
    super('BAD_INPUT', message, {
      details: {
        issues: issues.map((i) => ({ path: i.path.map(String), message: i.message, code: i.code })),
      },
    })
  }
}

/** A command id sent again for another command, another input or another aggregate: nothing is appended. */
export class CommandIdReusedError extends AnnalsError {
  override readonly name = 'CommandIdReusedError'
  constructor(
    readonly commandId: string,
    where: string,
  ) {
    super(
      'COMMAND_ID_REUSED',
      `Command id ${commandId} was already used ${where}; send a new id for a new command`,
    )
  }
}

export class ConcurrencyConflictError extends AnnalsError {
  override readonly name = 'ConcurrencyConflictError'
  constructor(
    readonly streamName: string,
    readonly expected: bigint | string,
    readonly actual: bigint | undefined,
    options?: { cause?: unknown },
  ) {
    super(
      'CONCURRENCY_CONFLICT',
      `Stream ${streamName} is at ${actual ?? 'no revision'}, expected ${String(expected)}`,
      options,
    )
  }
}

export class StoredEventError extends AnnalsError {
  override readonly name = 'StoredEventError'
  constructor(
    code: 'UNKNOWN_EVENT_TYPE' | 'MALFORMED_EVENT',
    readonly streamName: string,
    readonly revision: bigint,
    readonly eventType: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(code, `Event ${eventType} at ${streamName}@${revision}: ${reason}`, options)
  }
}

export class StreamDeletedError extends AnnalsError {
  override readonly name = 'StreamDeletedError'
  constructor(
    readonly streamName: string,
    options?: { cause?: unknown },
  ) {
    super('STREAM_DELETED', `Stream ${streamName} is deleted`, options)
  }
}

export class StoreUnavailableError extends AnnalsError {
  override readonly name = 'StoreUnavailableError'
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options)
  }
}

export class ConsistencyTimeoutError extends AnnalsError {
  override readonly name = 'ConsistencyTimeoutError'
  constructor(
    readonly target: bigint,
    readonly reached: bigint | undefined,
    timeoutMs: number,
  ) {
    super(
      'CONSISTENCY_TIMEOUT',
      `The read model reached ${reached ?? 'nothing'} but not ${target} within ${timeoutMs} ms`,
    )
  }
}

/** Refused at once because too many commands wait already: retry after `details.retryAfterMs`. */
export class OverloadedError extends AnnalsError {
  override readonly name = 'OverloadedError'
  constructor(where: string, bound: number, retryAfterMs: number) {
    super('OVERLOADED', `${where} already holds ${bound} queued commands, its bound; retry later`, {
      details: { retryAfterMs },
    })
  }
}

/** Narrows an unknown thrown value to an AnnalsError. */
export function isAnnalsError(error: unknown): error is AnnalsError {
  return error instanceof AnnalsError
}
