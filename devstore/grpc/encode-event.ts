/**
 * StoredEvent -> ReadResp: how an event travels to the client. Metadata carries `type`, `content-type` and
 * `created` (.NET ticks: milliseconds x 10 000, without which the client shows 1970); both positions are the
 * event's log position.
 */
import type { Engine, StoredEvent } from '../engine/engine.ts'
import { Empty, ReadResp, StreamIdentifier, UUID, type ReadResp as ReadRespMessage } from './protocol.ts'

type RecordedEvent = InstanceType<typeof ReadResp.ReadEvent.RecordedEvent>

export interface EncodeOptions {
  /** The client asked for structured UUIDs rather than strings. */
  readonly structuredUuids: boolean
  /** `$all` reads carry the commit position on the ReadEvent; stream reads carry no_position. */
  readonly withCommitPosition: boolean
  /** Replace `$>` links by their targets, keeping the link alongside. */
  readonly resolveLinks: boolean
}

const LINK_TYPE = '$>'

/** One ReadResp for `event`, resolving it when it is a link and resolveLinks was asked for. */
export function encodeEvent(engine: Engine, event: StoredEvent, options: EncodeOptions): ReadRespMessage {
  const readEvent = new ReadResp.ReadEvent()
  if (options.resolveLinks && event.type === LINK_TYPE) {
    const target = engine.resolveLink(event)
    // An unresolvable link arrives as a link without an event, as EventStoreDB sends it.
    if (target !== undefined) readEvent.setEvent(recordedEvent(target, options))
    readEvent.setLink(recordedEvent(event, options))
  } else {
    readEvent.setEvent(recordedEvent(event, options))
  }
  if (options.withCommitPosition) readEvent.setCommitPosition(event.position.toString())
  else readEvent.setNoPosition(new Empty())
  const reply = new ReadResp()
  reply.setEvent(readEvent)
  return reply
}

function recordedEvent(event: StoredEvent, options: EncodeOptions): RecordedEvent {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
  recorded.setId(uuid(event.id, options.structuredUuids))
  recorded.setStreamIdentifier(streamIdentifier(event.stream))
  recorded.setStreamRevision(event.revision.toString())
  const position = event.position.toString()
  recorded.setPreparePosition(position)
  recorded.setCommitPosition(position)
  const metadata = recorded.getMetadataMap()
  metadata.set('type', event.type)
  metadata.set('content-type', event.contentType)
  metadata.set('created', `${Math.trunc(event.created)}0000`)
  recorded.setCustomMetadata(event.metadata)
  recorded.setData(event.data)
  return recorded
}

const identifiers = new Map<string, InstanceType<typeof StreamIdentifier>>()

/** Identifiers are immutable once built, so one per stream name serves every message. */
function streamIdentifier(stream: string): InstanceType<typeof StreamIdentifier> {
  let identifier = identifiers.get(stream)
  if (identifier === undefined) {
    if (identifiers.size >= 10_000) identifiers.clear()
    identifier = new StreamIdentifier()
    identifier.setStreamName(Buffer.from(stream, 'utf8'))
    identifiers.set(stream, identifier)
  }
  return identifier
}

function uuid(id: string, structured: boolean): InstanceType<typeof UUID> {
  const result = new UUID()
  if (!structured) {
    result.setString(id)
    return result
  }
  const hex = id.replaceAll('-', '')
  const bits = new UUID.Structured()
  bits.setMostSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(0, 16)}`)).toString())
  bits.setLeastSignificantBits(BigInt.asIntN(64, BigInt(`0x${hex.slice(16)}`)).toString())
  result.setStructured(bits)
  return result
}
