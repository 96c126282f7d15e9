/**
 * The devstore's hand-written protobuf reader and writer against protobufjs on the same work: decoding a
 * BatchAppendReq of one event (what every append at high concurrency costs) and encoding a ReadResp of one
 * event (what a catch-up costs per event). Issue 18 keeps the hand-written code only while no library comes
 * within 10% of it. protobufjs runs with its generated (reflection-compiled) encoders and decoders, on the
 * subset of the protocol written below in .proto text; each side produces what the devstore needs (the
 * request's fields, the reply's bytes). Rounds alternate and pair; each ratio is the median of pair ratios.
 *
 * Run: npm run bench -- devstore-protobuf
 */
import { randomUUID } from 'node:crypto'
import protobuf from 'protobufjs'
import { decodeBatchAppendRequest } from '../devstore/grpc/decode-batch-append-request.ts'
import { encodeEvent, type EncodeOptions } from '../devstore/grpc/encode-event.ts'
import type { Engine, StoredEvent } from '../devstore/engine/engine.ts'
import { BatchAppendReq, Empty, StreamIdentifier, UUID } from '../devstore/grpc/protocol.ts'
import type { BenchResult } from './run.ts'

const ROUNDS = 12
const OPERATIONS = 50_000

const PROTOCOL = `
syntax = "proto3";
message Empty {}
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
message UUID {
  message Structured { int64 most_significant_bits = 1; int64 least_significant_bits = 2; }
  oneof value { Structured structured = 1; string string = 2; }
}
message StreamIdentifier { bytes stream_name = 3; }
message BatchAppendReq {
  message Options {
    StreamIdentifier stream_identifier = 1;
    oneof expected_stream_position { uint64 stream_position = 2; Empty no_stream = 3; Empty any = 4; Empty stream_exists = 5; }
    Timestamp deadline = 6;
  }
  message ProposedMessage { UUID id = 1; map<string, string> metadata = 2; bytes custom_metadata = 3; bytes data = 4; }
  UUID correlation_id = 1;
  Options options = 2;
  repeated ProposedMessage proposed_messages = 3;
  bool is_final = 4;
}
message RecordedEvent {
  UUID id = 1; StreamIdentifier stream_identifier = 2; uint64 stream_revision = 3; uint64 prepare_position = 4;
  uint64 commit_position = 5; map<string, string> metadata = 6; bytes custom_metadata = 7; bytes data = 8;
}
message ReadEvent {
  RecordedEvent event = 1; RecordedEvent link = 2;
  oneof position { uint64 commit_position = 3; Empty no_position = 4; }
}
message ReadResp { oneof content { ReadEvent event = 1; } }
`

const benchmark = {
  name: 'devstore-protobuf',
  description:
    "the devstore's hand-written protobuf (BatchAppendReq decode, ReadResp encode) vs protobufjs on the same messages",
  run: (): Promise<BenchResult[]> => {
    const root = protobuf.parse(PROTOCOL, { keepCase: true }).root
    const BatchAppend = root.lookupType('BatchAppendReq')
    const ReadResponse = root.lookupType('ReadResp')
    const request = sampleRequest()
    const event = sampleEvent()
    const encoding: EncodeOptions = { structuredUuids: false, withCommitPosition: true, resolveLinks: false }
    const noLinks = {} as Engine
    const decodeHand = () => decodeBatchAppendRequest(request)
    const decodeLibrary = () => BatchAppend.decode(request)
    const encodeHand = () => encodeEvent(noLinks, event, encoding).serializeBinary()
    const encodeLibrary = () => ReadResponse.encode(readRespOf(event)).finish()
    // The two sides must produce the same bytes, or the comparison is of different work.
    if (!Buffer.from(encodeHand()).equals(Buffer.from(encodeLibrary()))) {
      throw new Error(
        `devstore-protobuf: the ReadResp differs:\n${Buffer.from(encodeHand()).toString('hex')}\n${Buffer.from(encodeLibrary()).toString('hex')}`,
      )
    }
    return Promise.resolve([
      compare('BatchAppendReq decode', decodeLibrary, decodeHand),
      compare('ReadResp encode', encodeLibrary, encodeHand),
    ])
  },
}

export default benchmark

function compare(what: string, library: () => unknown, hand: () => unknown): BenchResult {
  const rates = { library: [] as number[], hand: [] as number[] }
  // One unmeasured round each, so both are optimised before the pairs start.
  timed(library, OPERATIONS)
  timed(hand, OPERATIONS)
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which side goes first, so neither always runs on a warmer (or more collected) heap.
    if (round % 2 === 0) {
      rates.library.push(timed(library, OPERATIONS))
      rates.hand.push(timed(hand, OPERATIONS))
    } else {
      rates.hand.push(timed(hand, OPERATIONS))
      rates.library.push(timed(library, OPERATIONS))
    }
  }
  const ratios = rates.library.map((rate, index) => rate / rates.hand[index]!)
  return {
    figure: { label: `protobufjs ${what}`, value: Math.round(median(rates.library)), unit: 'ops/s' },
    baseline: { label: `hand-written ${what}`, value: Math.round(median(rates.hand)), unit: 'ops/s' },
    ratio: median(ratios),
    notes: `median of ${ROUNDS} paired rounds of ${OPERATIONS} operations, alternating order; the hand-written code stays only while the library reads below 0.90`,
  }
}

function timed(work: () => unknown, count: number): number {
  let sink = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < count; i++) if (work() !== undefined) sink++
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (sink < 0) throw new Error('unreachable')
  return count / seconds
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** A BatchAppendReq as @eventstore/db-client sends one event: string ids, a deadline, JSON data. */
function sampleRequest(): Uint8Array {
  const uuid = (value: string) => {
    const id = new UUID()
    id.setString(value)
    return id
  }
  const identifier = new StreamIdentifier()
  identifier.setStreamName(Buffer.from('battery-0017'))
  const options = new BatchAppendReq.Options()
  options.setStreamIdentifier(identifier)
  options.setAny(new Empty())
  const message = new BatchAppendReq.ProposedMessage()
  message.setId(uuid(randomUUID()))
  message.getMetadataMap().set('type', 'Charged').set('content-type', 'application/json')
  message.setData(Buffer.from(JSON.stringify({ kw: 5, site: 'site-17', note: 'x'.repeat(120) })))
  message.setCustomMetadata(new Uint8Array())
  const request = new BatchAppendReq()
  request.setCorrelationId(uuid(randomUUID()))
  request.setOptions(options)
  request.setProposedMessagesList([message])
  request.setIsFinal(true)
  return request.serializeBinary()
}

function sampleEvent(): StoredEvent {
  return {
    stream: 'battery-0017',
    revision: 41n,
    position: 123_456_789n,
    id: randomUUID(),
    type: 'Charged',
    data: Buffer.from(JSON.stringify({ kw: 5, site: 'site-17', note: 'x'.repeat(120) })),
    metadata: new Uint8Array(),
    contentType: 'application/json',
    created: 1_764_000_000_000,
  }
}

/** The plain object protobufjs encodes: the same fields, in the same form, as encodeEvent writes. */
function readRespOf(event: StoredEvent): Record<string, unknown> {
  const position = Number(event.position)
  return {
    event: {
      event: {
        id: { string: event.id },
        stream_identifier: { stream_name: Buffer.from(event.stream, 'utf8') },
        stream_revision: Number(event.revision),
        prepare_position: position,
        commit_position: position,
        metadata: {
          'content-type': event.contentType,
          created: `${Math.trunc(event.created)}0000`,
          type: event.type,
        },
        // protobufjs writes a field it is given even when empty; proto3 (and the devstore) leave it out.
        ...(event.metadata.length === 0 ? {} : { custom_metadata: event.metadata }),
        ...(event.data.length === 0 ? {} : { data: event.data }),
      },
      commit_position: position,
    },
  }
}
