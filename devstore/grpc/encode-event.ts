/**
 * StoredEvent -> ReadResp: how an event travels to the client. Metadata carries `type`, `content-type` and
 * `created` (.NET ticks: milliseconds x 10 000, without which the client shows 1970); both positions are the
 * event's log position.
 *
 * The reply is written straight to protobuf bytes (the bytes google-protobuf would write for the same
 * message, field for field), wrapped in a ReadResp whose serializeBinary returns them: a catch-up sends
 * every event in the log, and building then serializing a tree of message objects per event cost more
 * than the rest of the read path together.
 */
import type { Engine, StoredEvent } from '../engine/engine.ts'
import { ReadResp, type ReadResp as ReadRespMessage } from './protocol.ts'
import {
  fieldBytes,
  bigVarintField,
  writeTag,
  writeByte,
  writeString,
  writeBytes,
  varintBytes,
  writeVarint,
  writeBigVarint,
  preEncoded,
} from './protobuf-writer.ts'

const encodedReadResp = preEncoded(ReadResp)

export interface EncodeOptions {
  /** The client asked for structured UUIDs rather than strings. */
  readonly structuredUuids: boolean
  /** `$all` reads carry the commit position on the ReadEvent; stream reads carry no_position. */
  readonly withCommitPosition: boolean
  /** Replace `$>` links by their targets, keeping the link alongside. */
  readonly resolveLinks: boolean
}

const LINK_TYPE = '$>'
const TWO_POW_53 = 2n ** 53n

/** One ReadResp for `event`, resolving it when it is a link and resolveLinks was asked for. */
export function encodeEvent(engine: Engine, event: StoredEvent, options: EncodeOptions): ReadRespMessage {
  let recorded: Recorded | undefined = recordedOf(event, options)
  let link: Recorded | undefined
  if (options.resolveLinks && event.type === LINK_TYPE) {
    link = recorded
    const target = engine.resolveLink(event)
    // An unresolvable link arrives as a link without an event, as EventStoreDB sends it.
    recorded = target === undefined ? undefined : recordedOf(target, options)
  }
  const position = Number(event.position)
  const readEventBytes =
    (recorded === undefined ? 0 : fieldBytes(recorded.bytes)) +
    (link === undefined ? 0 : fieldBytes(link.bytes)) +
    (options.withCommitPosition ? 1 + varintBytes(position) : 2)
  const bytes = Buffer.allocUnsafe(fieldBytes(readEventBytes))
  let at = writeTag(bytes, 0, 0x0a, readEventBytes)
  if (recorded !== undefined) at = writeRecorded(bytes, writeTag(bytes, at, 0x0a, recorded.bytes), recorded)
  if (link !== undefined) at = writeRecorded(bytes, writeTag(bytes, at, 0x12, link.bytes), link)
  if (options.withCommitPosition) writeVarint(bytes, writeByte(bytes, at, 0x18), position)
  else writeTag(bytes, at, 0x22, 0)
  return encodedReadResp(bytes)
}

/** A RecordedEvent measured: its sizes, so it is written in one pass into one buffer. */
interface Recorded {
  readonly event: StoredEvent
  readonly bytes: number
  readonly uuid: number
  readonly structured: readonly [bigint, bigint] | undefined
  /** The length of UUID.Structured when structured. */
  readonly structuredBytes: number
  readonly idBytes: number
  readonly streamBytes: number
  readonly typeBytes: number
  readonly created: string
  readonly revision: number | bigint
  readonly position: number
}

function recordedOf(event: StoredEvent, options: EncodeOptions): Recorded {
  let structured: readonly [bigint, bigint] | undefined
  let idBytes = 0
  let structuredBytes = 0
  let uuid: number
  if (options.structuredUuids) {
    const hex = event.id.replaceAll('-', '')
    structured = [
      BigInt.asUintN(64, BigInt(`0x${hex.slice(0, 16)}`)),
      BigInt.asUintN(64, BigInt(`0x${hex.slice(16)}`)),
    ]
    structuredBytes = bigVarintField(structured[0]) + bigVarintField(structured[1])
    uuid = fieldBytes(structuredBytes)
  } else {
    idBytes = Buffer.byteLength(event.id, 'utf8')
    uuid = fieldBytes(idBytes)
  }
  const streamBytes = Buffer.byteLength(event.stream, 'utf8')
  const typeBytes = Buffer.byteLength(event.type, 'utf8')
  const contentTypeBytes = event.contentType.length
  const created = `${Math.trunc(event.created)}0000`
  const revision = event.revision < TWO_POW_53 ? Number(event.revision) : event.revision
  const position = Number(event.position)
  const bytes =
    fieldBytes(uuid) +
    fieldBytes(streamBytes === 0 ? 0 : fieldBytes(streamBytes)) +
    (revision === 0
      ? 0
      : typeof revision === 'bigint'
        ? bigVarintField(revision)
        : 1 + varintBytes(revision)) +
    (position === 0 ? 0 : 2 * (1 + varintBytes(position))) +
    fieldBytes(entryBytes(12, contentTypeBytes)) +
    fieldBytes(entryBytes(7, created.length)) +
    fieldBytes(entryBytes(4, typeBytes)) +
    (event.metadata.length === 0 ? 0 : fieldBytes(event.metadata.length)) +
    (event.data.length === 0 ? 0 : fieldBytes(event.data.length))
  return {
    event,
    bytes,
    uuid,
    structured,
    structuredBytes,
    idBytes,
    streamBytes,
    typeBytes,
    created,
    revision,
    position,
  }
}

// Fields in google-protobuf's order; map entries sorted by key, as it writes them.
function writeRecorded(out: Buffer, start: number, recorded: Recorded): number {
  const { event, structured, position, revision } = recorded
  let at = writeTag(out, start, 0x0a, recorded.uuid)
  if (structured === undefined) at = writeString(out, at, 0x12, event.id, recorded.idBytes)
  else {
    at = writeTag(out, at, 0x0a, recorded.structuredBytes)
    if (structured[0] !== 0n) at = writeBigVarint(out, writeByte(out, at, 0x08), structured[0])
    if (structured[1] !== 0n) at = writeBigVarint(out, writeByte(out, at, 0x10), structured[1])
  }
  const { streamBytes } = recorded
  at = writeTag(out, at, 0x12, streamBytes === 0 ? 0 : fieldBytes(streamBytes))
  if (streamBytes > 0) at = writeString(out, at, 0x1a, event.stream, streamBytes)
  if (typeof revision === 'bigint') at = writeBigVarint(out, writeByte(out, at, 0x18), revision)
  else if (revision !== 0) at = writeVarint(out, writeByte(out, at, 0x18), revision)
  if (position !== 0) {
    at = writeVarint(out, writeByte(out, at, 0x20), position)
    at = writeVarint(out, writeByte(out, at, 0x28), position)
  }
  at = writeEntry(out, at, 'content-type', event.contentType, event.contentType.length)
  at = writeEntry(out, at, 'created', recorded.created, recorded.created.length)
  at = writeEntry(out, at, 'type', event.type, recorded.typeBytes)
  if (event.metadata.length > 0) at = writeBytes(out, at, 0x3a, event.metadata)
  if (event.data.length > 0) at = writeBytes(out, at, 0x42, event.data)
  return at
}

function writeEntry(out: Buffer, start: number, key: string, value: string, valueBytes: number): number {
  const at = writeTag(out, start, 0x32, entryBytes(key.length, valueBytes))
  return writeString(out, writeString(out, at, 0x0a, key, key.length), 0x12, value, valueBytes)
}

function entryBytes(keyBytes: number, valueBytes: number): number {
  return fieldBytes(keyBytes) + fieldBytes(valueBytes)
}
