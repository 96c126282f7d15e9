/**
 * Reading the fields of the client's requests: stream names, expected revisions, event ids and proposed
 * events, in the shapes the Engine takes. Append, Read and Delete requests arrive as google-protobuf
 * messages; BatchAppend's as the plain data decode-batch-append-request.ts reads (the decoded* readers).
 */
import type { ContentType, ExpectedRevision, ProposedEvent } from '../engine/engine.ts'
import type { DecodedProposedMessage, DecodedUuid } from './decode-batch-append-request.ts'
import { invalidArgument, serviceError } from './status-errors.ts'
import type { StreamIdentifier, UUID } from './protocol.ts'
import { status } from '@grpc/grpc-js'
import { RequestRefused } from './request-refused.ts'

/** What Append's proposed message offers. */
export interface ProposedMessageLike {
  getId(): UUID | undefined
  getMetadataMap(): { get(key: string): string | undefined }
  getData_asU8(): Uint8Array
  getCustomMetadata_asU8(): Uint8Array
}

export function streamNameOf(identifier: StreamIdentifier | undefined): string {
  return streamNameFrom(identifier?.getStreamName_asU8())
}

/** The stream name of an identifier's bytes; undefined when the request carried no identifier. */
export function streamNameFrom(name: Uint8Array | undefined): string {
  if (name === undefined) throw new RequestRefused(invalidArgument('A stream identifier is required'))
  // A view on the message's bytes, not a copy of them.
  return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString('utf8')
}

/** The oneof `expected_stream_revision` of Append, Delete and Tombstone options (revision as a decimal). */
export function expectedRevisionOf(options: {
  hasAny(): boolean
  hasNoStream(): boolean
  hasStreamExists(): boolean
  revision: string | undefined
}): ExpectedRevision {
  if (options.hasNoStream()) return 'no_stream'
  if (options.hasStreamExists()) return 'stream_exists'
  if (options.revision !== undefined) return BigInt(options.revision)
  return 'any'
}

export function uuidOf(uuid: UUID | undefined): string {
  if (uuid === undefined) throw new RequestRefused(invalidArgument('An event id is required'))
  const structured = uuid.getStructured()
  if (structured === undefined) return uuid.getString()
  return formattedUuid(
    BigInt(structured.getMostSignificantBits()),
    BigInt(structured.getLeastSignificantBits()),
  )
}

/** As uuidOf reads the same UUID sent as a google-protobuf message. */
export function decodedUuidOf(uuid: DecodedUuid | undefined): string {
  if (uuid === undefined) throw new RequestRefused(invalidArgument('An event id is required'))
  if (uuid.kind === 'structured') return formattedUuid(uuid.most, uuid.least)
  return uuid.kind === 'string' ? uuid.text : ''
}

/**
 * A map key for a correlation id, without the BigInt work of formatting it: the structured form's two
 * halves as decimals, else the string form, marked apart.
 */
export function uuidKeyOf(uuid: DecodedUuid | undefined): string {
  if (uuid === undefined) throw new RequestRefused(invalidArgument('A correlation id is required'))
  if (uuid.kind === 'structured') return `b${uuid.most}:${uuid.least}`
  return uuid.kind === 'string' ? `s${uuid.text}` : 's'
}

export function proposedEventOf(message: ProposedMessageLike): ProposedEvent {
  const metadata = message.getMetadataMap()
  const type = metadata.get('type')
  const contentType = metadata.get('content-type')
  if (type === undefined || contentType === undefined) throw missingMetadata(type, contentType)
  return {
    id: uuidOf(message.getId()),
    type,
    contentType: contentTypeOf(contentType),
    data: message.getData_asU8(),
    metadata: message.getCustomMetadata_asU8(),
  }
}

/** As proposedEventOf reads the same message sent as a google-protobuf message. */
export function decodedProposedEventOf(message: DecodedProposedMessage): ProposedEvent {
  const type = message.metadata.get('type')
  const contentType = message.metadata.get('content-type')
  if (type === undefined || contentType === undefined) throw missingMetadata(type, contentType)
  return {
    id: decodedUuidOf(message.id),
    type,
    contentType: contentTypeOf(contentType),
    data: message.data,
    metadata: message.customMetadata,
  }
}

function missingMetadata(type: string | undefined, contentType: string | undefined): RequestRefused {
  const missing = [
    type === undefined ? 'type' : undefined,
    contentType === undefined ? 'content-type' : undefined,
  ]
    .filter((name) => name !== undefined)
    .join(',')
  return new RequestRefused(
    serviceError(status.INVALID_ARGUMENT, `Required metadata properties are missing: ${missing}`, {
      exception: 'missing-required-metadata-property',
      'required-metadata-properties': missing,
    }),
  )
}

function contentTypeOf(value: string): ContentType {
  return value === 'application/json' ? 'application/json' : 'application/octet-stream'
}

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1')
const uuidBytes = Buffer.alloc(16)
const uuidText = Buffer.alloc(36)

/**
 * Two int64 halves as a UUID's 16 bytes in hex (two's complement: sign bits included), written into a buffer
 * and read out as one flat string: joined slices would make a rope of nine pieces, ~370 heap bytes instead of
 * ~66, kept that way by every event the devstore's cache holds.
 */
function formattedUuid(most: bigint, least: bigint): string {
  uuidBytes.writeBigUInt64BE(BigInt.asUintN(64, most), 0)
  uuidBytes.writeBigUInt64BE(BigInt.asUintN(64, least), 8)
  let at = 0
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) uuidText[at++] = 0x2d
    const byte = uuidBytes[index]!
    uuidText[at++] = HEX_DIGITS[byte >> 4]!
    uuidText[at++] = HEX_DIGITS[byte & 15]!
  }
  return uuidText.toString('latin1')
}
