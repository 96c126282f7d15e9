import type { CommandEnvelope, CommandResult } from '../../command/command-bus.ts'
import {
  AnnalsError,
  BadInputError,
  DomainError,
  errorCodes,
  isAnnalsError,
  isErrorCode,
} from '../../errors.ts'

/**
 * How commands, results and errors cross the internal channel: JSON with bigints as decimal strings, and
 * errors as their code, message and details, so the owner's error reaches the client with the same code.
 */
export interface WireResult {
  readonly aggregateId: string
  readonly commandId: string
  readonly revision: string
  readonly position: string
  readonly events: readonly {
    readonly id: string
    readonly type: string
    readonly data: unknown
    readonly revision: string
    readonly position: string
  }[]
}

export interface WireError {
  readonly code: string
  readonly message: string
  readonly details?: Record<string, unknown>
  /** Whether the sender should retry on another owner (the receiver is leaving or not serving). */
  readonly retry?: boolean
}

export interface WireCommand {
  /**
   * `traceparent` is the W3C trace context of the forwarding span. It travels with each command rather than
   * as a request header: one forwarded request carries a batch of commands from different traces.
   */
  readonly envelope: CommandEnvelope & { readonly commandId: string; readonly traceparent?: string }
  /** The replica that forwarded it; the receiver runs it locally rather than forwarding again. */
  readonly from: string
}

/** The most commands one forwarded batch carries; the owner refuses a longer one. */
export const MAX_FORWARD_BATCH = 64

/** Commands a replica forwards to one owner in one request; the owner runs each on its own. */
export interface WireBatch {
  readonly from: string
  readonly commands: readonly WireCommand['envelope'][]
}

/**
 * One line of the owner's answer to a batch (newline-delimited JSON, in the order the commands finish): the
 * result or the error of the command at index `i`, in the same formats as a single forwarded command.
 */
export type WireBatchLine =
  { readonly i: number; readonly ok: WireResult } | { readonly i: number; readonly error: WireError }

export function resultToWire(result: CommandResult): WireResult {
  return {
    aggregateId: result.aggregateId,
    commandId: result.commandId,
    revision: String(result.revision),
    position: String(result.position),
    events: result.events.map((e) => ({
      id: e.id,
      type: e.type,
      data: e.data,
      revision: String(e.revision),
      position: String(e.position),
    })),
  }
}

export function resultFromWire(wire: WireResult): CommandResult {
  return {
    aggregateId: wire.aggregateId,
    commandId: wire.commandId,
    revision: BigInt(wire.revision),
    position: BigInt(wire.position),
    events: wire.events.map((e) => ({
      id: e.id,
      type: e.type,
      data: e.data,
      revision: BigInt(e.revision),
      position: BigInt(e.position),
    })),
  }
}

/** The owner's side: an error as it goes on the wire, with its HTTP status. Unknown errors become INTERNAL. */
export function errorToWire(error: unknown): { status: number; body: WireError } {
  if (!isAnnalsError(error)) {
    return { status: 500, body: { code: 'INTERNAL', message: 'The owning replica failed unexpectedly' } }
  }
  const known = errorCodes[error.code as keyof typeof errorCodes] as { http: number } | undefined
  const body: WireError = {
    code: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: jsonSafe(error.details) }),
  }
  return { status: known?.http ?? 422, body }
}

/** The sender's side: rebuilds the owner's error so it keeps its class where one exists, and its code. */
export function errorFromWire(wire: WireError): AnnalsError {
  if (wire.code === 'BAD_INPUT' && Array.isArray(wire.details?.['issues'])) {
    const issues = wire.details['issues'] as { path: string[]; message: string; code?: string }[]
    return new BadInputError(wire.message, issues)
  }
  if (!isErrorCode(wire.code)) return new DomainError(wire.code, wire.message, wire.details)
  return new AnnalsError(
    wire.code,
    wire.message,
    wire.details === undefined ? undefined : { details: wire.details },
  )
}

function jsonSafe(details: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(details, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value)),
  ) as Record<string, unknown>
}
