/**
 * One BatchAppendReq, read straight from its protobuf bytes into plain data: the fields google-protobuf's
 * deserializer would give, without its tree of message objects. At high concurrency every append is one
 * request, and building that tree cost about as much as the devstore's own handling of the append.
 *
 * As google-protobuf reads them: a field repeated where one is expected replaces the earlier one (a message
 * field too), the last of a oneof's fields wins, absent scalars read as their defaults. Unknown fields, and
 * known ones sent with another wire type, are skipped. Strings are decoded as UTF-8, with U+FFFD for
 * invalid sequences; bytes are views on the received buffer.
 *
 * Wire layout (event_store.client.streams.BatchAppendReq):
 * correlation_id = 1 (UUID), options = 2, proposed_messages = 3 (repeated), is_final = 4 (bool).
 * Options: stream_identifier = 1, then the oneof expected_stream_position: stream_position = 2 (uint64),
 * no_stream = 3, any = 4, stream_exists = 5 (google.protobuf.Empty); deadline = 6 (google.protobuf.Timestamp).
 * ProposedMessage: id = 1 (UUID), metadata = 2 (map<string, string>), custom_metadata = 3, data = 4 (bytes).
 * UUID: the oneof value: structured = 1 (most_significant_bits = 1, least_significant_bits = 2, int64) or
 * string = 2. StreamIdentifier: stream_name = 3 (bytes). Timestamp: seconds = 1 (int64), nanos = 2 (int32).
 */
import type { ExpectedRevision } from '../engine/engine.ts'
import { MalformedMessageError, ProtobufReader } from './protobuf-reader.ts'
import { RequestRefused } from './request-refused.ts'
import { invalidArgument } from './status-errors.ts'

/** A UUID as sent: its two int64 halves, its string form, or neither (an empty message). */
export type DecodedUuid =
  | { readonly kind: 'structured'; readonly most: bigint; readonly least: bigint }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'empty' }

export interface DecodedStreamIdentifier {
  readonly streamName: Uint8Array
}

/** A google.protobuf.Timestamp: `seconds` as google-protobuf's readInt64 gives it (a number). */
export interface DecodedTimestamp {
  readonly seconds: number
  readonly nanos: number
}

export interface DecodedBatchAppendOptions {
  readonly streamIdentifier: DecodedStreamIdentifier | undefined
  /** The oneof expected_stream_position: undefined when none of its fields was sent. */
  readonly expected: ExpectedRevision | undefined
  readonly deadline: DecodedTimestamp | undefined
}

export interface DecodedProposedMessage {
  readonly id: DecodedUuid | undefined
  readonly metadata: ReadonlyMap<string, string>
  readonly customMetadata: Uint8Array
  readonly data: Uint8Array
}

export interface DecodedBatchAppendRequest {
  readonly correlationId: DecodedUuid | undefined
  readonly options: DecodedBatchAppendOptions | undefined
  readonly proposedMessages: readonly DecodedProposedMessage[]
  readonly isFinal: boolean
}

/** @throws MalformedMessageError when the bytes break the protobuf wire format. */
export function decodeBatchAppendRequest(bytes: Uint8Array): DecodedBatchAppendRequest {
  const reader = new ProtobufReader(bytes)
  let correlationId: DecodedUuid | undefined
  let options: DecodedBatchAppendOptions | undefined
  const proposedMessages: DecodedProposedMessage[] = []
  let isFinal = false
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x0a) correlationId = readUuid(reader)
    else if (tag === 0x12) options = readOptions(reader)
    else if (tag === 0x1a) proposedMessages.push(readProposedMessage(reader))
    else if (tag === 0x20) isFinal = reader.readBool()
    else reader.skip(tag)
  }
  return { correlationId, options, proposedMessages, isFinal }
}

/**
 * The request deserializer the devstore serves BatchAppend with: malformed bytes become a refusal
 * (INVALID_ARGUMENT) that the handler answers the call with, since a deserializer that throws makes
 * grpc-js end the call with INTERNAL.
 */
export function receiveBatchAppendRequest(bytes: Uint8Array): DecodedBatchAppendRequest | RequestRefused {
  try {
    return decodeBatchAppendRequest(bytes)
  } catch (error) {
    if (!(error instanceof MalformedMessageError)) throw error
    return new RequestRefused(invalidArgument(`Invalid BatchAppendReq: ${error.message}`))
  }
}

const EMPTY_BYTES = new Uint8Array(0)
const EMPTY_UUID: DecodedUuid = { kind: 'empty' }

function readOptions(reader: ProtobufReader): DecodedBatchAppendOptions {
  const outer = reader.enter()
  let streamIdentifier: DecodedStreamIdentifier | undefined
  let expected: ExpectedRevision | undefined
  let deadline: DecodedTimestamp | undefined
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x0a) streamIdentifier = readStreamIdentifier(reader)
    else if (tag === 0x10) expected = reader.readUint64()
    else if (tag === 0x1a) expected = readEmpty(reader, 'no_stream')
    else if (tag === 0x22) expected = readEmpty(reader, 'any')
    else if (tag === 0x2a) expected = readEmpty(reader, 'stream_exists')
    else if (tag === 0x32) deadline = readTimestamp(reader)
    else reader.skip(tag)
  }
  reader.leave(outer)
  return { streamIdentifier, expected, deadline }
}

function readProposedMessage(reader: ProtobufReader): DecodedProposedMessage {
  const outer = reader.enter()
  let id: DecodedUuid | undefined
  const metadata = new Map<string, string>()
  let customMetadata: Uint8Array = EMPTY_BYTES
  let data: Uint8Array = EMPTY_BYTES
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x0a) id = readUuid(reader)
    else if (tag === 0x12) readMapEntry(reader, metadata)
    else if (tag === 0x1a) customMetadata = reader.readBytes()
    else if (tag === 0x22) data = reader.readBytes()
    else reader.skip(tag)
  }
  reader.leave(outer)
  return { id, metadata, customMetadata, data }
}

/** A map<string, string> entry: key = 1, value = 2, each "" when absent; a later key wins. */
function readMapEntry(reader: ProtobufReader, map: Map<string, string>): void {
  const outer = reader.enter()
  let key = ''
  let value = ''
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x0a) key = reader.readString()
    else if (tag === 0x12) value = reader.readString()
    else reader.skip(tag)
  }
  reader.leave(outer)
  map.set(key, value)
}

function readUuid(reader: ProtobufReader): DecodedUuid {
  const outer = reader.enter()
  let uuid = EMPTY_UUID
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x0a) uuid = readStructuredUuid(reader)
    else if (tag === 0x12) uuid = { kind: 'string', text: reader.readString() }
    else reader.skip(tag)
  }
  reader.leave(outer)
  return uuid
}

function readStructuredUuid(reader: ProtobufReader): DecodedUuid {
  const outer = reader.enter()
  let most = 0n
  let least = 0n
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x08) most = reader.readInt64()
    else if (tag === 0x10) least = reader.readInt64()
    else reader.skip(tag)
  }
  reader.leave(outer)
  return { kind: 'structured', most, least }
}

function readStreamIdentifier(reader: ProtobufReader): DecodedStreamIdentifier {
  const outer = reader.enter()
  let streamName: Uint8Array = EMPTY_BYTES
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x1a) streamName = reader.readBytes()
    else reader.skip(tag)
  }
  reader.leave(outer)
  return { streamName }
}

function readTimestamp(reader: ProtobufReader): DecodedTimestamp {
  const outer = reader.enter()
  let seconds = 0
  let nanos = 0
  while (!reader.done) {
    const tag = reader.readTag()
    if (tag === 0x08) seconds = reader.readInt64Number()
    else if (tag === 0x10) nanos = reader.readInt32()
    else reader.skip(tag)
  }
  reader.leave(outer)
  return { seconds, nanos }
}

/** A google.protobuf.Empty standing for `value` (any fields it carries are skipped). */
function readEmpty<T>(reader: ProtobufReader, value: T): T {
  const outer = reader.enter()
  while (!reader.done) reader.skip(reader.readTag())
  reader.leave(outer)
  return value
}
