/**
 * One BatchAppendResp, written straight to protobuf bytes: the bytes google-protobuf would write for the
 * same message, field for field, wrapped in a BatchAppendResp whose serializeBinary returns them. At high
 * concurrency every append is one request and one reply, and building then serializing a tree of message
 * objects per reply cost more than the engine's append.
 *
 * Fields in google-protobuf's order: correlation_id (1), error (2) or success (3), stream_identifier (4),
 * then the expected revision echoed back: stream_position (5), no_stream (6), any (7), stream_exists (8).
 */
import type { ExpectedRevision } from '../engine/engine.ts'
import type { DecodedUuid } from './decode-batch-append-request.ts'
import { BatchAppendResp, type BatchAppendResp as BatchAppendRespMessage } from './protocol.ts'
import {
  fieldBytes,
  bigVarintField,
  writeTag,
  writeByte,
  writeBytes,
  bigVarintBytes,
  writeBigVarint,
  preEncoded,
} from './protobuf-writer.ts'

const encodedReply = preEncoded(BatchAppendResp)

/** What the reply says happened: a success, or a google.rpc.Status already serialized. */
export type BatchAppendOutcome =
  | { readonly kind: 'success'; readonly revision: bigint; readonly position: bigint }
  | { readonly kind: 'error'; readonly status: Uint8Array }

/** What the reply echoes of its request, as the request was decoded. */
export interface BatchAppendReplyHead {
  readonly correlationId: DecodedUuid
  readonly streamName: Uint8Array
  readonly expected: ExpectedRevision
}

/**
 * A success reports `revision` (negative: no_stream, an empty append to a stream that does not exist) and
 * `position` (negative: no_position).
 */
export function encodeBatchAppendReply(
  head: BatchAppendReplyHead,
  outcome: BatchAppendOutcome,
): BatchAppendRespMessage {
  const uuid = uuidOf(head.correlationId)
  const name = head.streamName
  const identifierBytes = name.length === 0 ? 0 : fieldBytes(name.length)
  const expected = head.expected
  const expectedBytes = typeof expected === 'bigint' ? 1 + bigVarintBytes(expected) : 2
  let resultBytes: number
  let successBytes = 0
  let positionBytes = 0
  if (outcome.kind === 'error') resultBytes = fieldBytes(outcome.status.length)
  else {
    const { revision, position } = outcome
    positionBytes = position === 0n ? 0 : 2 * (1 + bigVarintBytes(position))
    successBytes =
      (revision < 0n ? 2 : 1 + bigVarintBytes(revision)) + (position < 0n ? 2 : fieldBytes(positionBytes))
    resultBytes = fieldBytes(successBytes)
  }
  const bytes = Buffer.allocUnsafe(
    (uuid === undefined ? 0 : fieldBytes(uuid.bytes)) +
      resultBytes +
      fieldBytes(identifierBytes) +
      expectedBytes,
  )
  let at = 0
  if (uuid !== undefined) at = writeUuid(bytes, writeTag(bytes, at, 0x0a, uuid.bytes), uuid)
  if (outcome.kind === 'error') at = writeBytes(bytes, at, 0x12, outcome.status)
  else {
    const { revision, position } = outcome
    at = writeTag(bytes, at, 0x1a, successBytes)
    if (revision < 0n) at = writeTag(bytes, at, 0x12, 0)
    else at = writeBigVarint(bytes, writeByte(bytes, at, 0x08), revision)
    if (position < 0n) at = writeTag(bytes, at, 0x22, 0)
    else {
      at = writeTag(bytes, at, 0x1a, positionBytes)
      if (position !== 0n) {
        at = writeBigVarint(bytes, writeByte(bytes, at, 0x08), position)
        at = writeBigVarint(bytes, writeByte(bytes, at, 0x10), position)
      }
    }
  }
  at = writeTag(bytes, at, 0x22, identifierBytes)
  if (name.length > 0) at = writeBytes(bytes, at, 0x1a, name)
  if (expected === 'no_stream') writeTag(bytes, at, 0x32, 0)
  else if (expected === 'any') writeTag(bytes, at, 0x3a, 0)
  else if (expected === 'stream_exists') writeTag(bytes, at, 0x42, 0)
  else writeBigVarint(bytes, writeByte(bytes, at, 0x28), expected)
  return encodedReply(bytes)
}

/** A UUID measured: a string, or two int64 halves (each written only when not zero). */
interface MeasuredUuid {
  readonly bytes: number
  readonly text: string | undefined
  readonly textBytes: number
  readonly halves: readonly [bigint, bigint] | undefined
  readonly halvesBytes: number
}

function uuidOf(uuid: DecodedUuid): MeasuredUuid {
  if (uuid.kind === 'structured') {
    const halves = [uuid.most, uuid.least] as const
    const halvesBytes = bigVarintField(halves[0]) + bigVarintField(halves[1])
    return { bytes: fieldBytes(halvesBytes), text: undefined, textBytes: 0, halves, halvesBytes }
  }
  if (uuid.kind === 'empty')
    return { bytes: 0, text: undefined, textBytes: 0, halves: undefined, halvesBytes: 0 }
  const textBytes = Buffer.byteLength(uuid.text, 'utf8')
  return { bytes: fieldBytes(textBytes), text: uuid.text, textBytes, halves: undefined, halvesBytes: 0 }
}

function writeUuid(out: Buffer, start: number, uuid: MeasuredUuid): number {
  let at = start
  const { halves, text } = uuid
  if (halves !== undefined) {
    at = writeTag(out, at, 0x0a, uuid.halvesBytes)
    if (halves[0] !== 0n) at = writeBigVarint(out, writeByte(out, at, 0x08), halves[0])
    if (halves[1] !== 0n) at = writeBigVarint(out, writeByte(out, at, 0x10), halves[1])
  }
  if (text !== undefined) {
    at = writeTag(out, at, 0x12, uuid.textBytes)
    out.write(text, at, uuid.textBytes, 'utf8')
    at += uuid.textBytes
  }
  return at
}
