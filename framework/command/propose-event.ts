import { SCHEMA_VERSION_KEY, type AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventToAppend } from '../event-store/event-store.ts'
import type { CheckedEvent } from './check-emitted-events.ts'
import { TRACEPARENT_KEY } from '../tracing/traceparent.ts'
import { deriveEventId } from './derive-event-id.ts'
import { COMMAND_HASH_KEY, COMMAND_ID_KEY } from './recent-commands.ts'

/** The command an event comes from: its id, and the hash of what it asked. */
export interface ProposingCommand {
  readonly commandId: string
  /** Absent for a command whose id the bus generated: such an id is never looked up again. */
  readonly hash: string | undefined
  /** The bus generated the command id: a random (version 4) UUID. */
  readonly idGenerated?: boolean | undefined
  /** The W3C traceparent of the command's span, when it is traced. */
  readonly traceparent?: string | undefined
}

/**
 * The `index`th event a command proposes to append: its id fixed by the command id (eventIdOf), its metadata
 * carrying the schema version, the command id and, for an id a caller sent, its hash (which deduplication
 * reads back after a reload), and the traceparent of the command's span, so whatever the event causes later
 * links to the command.
 */
export function proposeEvent(
  aggregate: AnyAggregate,
  event: CheckedEvent,
  command: ProposingCommand,
  index: number,
): EventToAppend {
  const metadata: Record<string, unknown> = {
    [SCHEMA_VERSION_KEY]: aggregate.eventVersion(event.type),
    [COMMAND_ID_KEY]: command.commandId,
  }
  if (command.hash !== undefined) metadata[COMMAND_HASH_KEY] = command.hash
  if (command.traceparent !== undefined) metadata[TRACEPARENT_KEY] = command.traceparent
  return { id: eventIdOf(command, index), type: event.type, data: event.data, metadata }
}

/**
 * The id of a command's `index`th event, the same each time the command is decided. A command id the bus
 * generated is a random version-4 UUID: its first event takes it as it is, which saves a hash per command and
 * never equals an id derived by name (version 5). A caller's id, which a caller may craft, is always hashed.
 */
function eventIdOf(command: ProposingCommand, index: number): string {
  return index === 0 && command.idGenerated === true
    ? command.commandId
    : deriveEventId(command.commandId, index)
}
