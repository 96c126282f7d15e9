/**
 * Reading protobuf by hand: a cursor over one message's bytes that yields tags, varints and
 * length-delimited fields, and skips what it does not know. The devstore's hot requests (BatchAppend) are
 * read with it instead of a google-protobuf message tree. Bytes that break the wire format throw
 * MalformedMessageError, naming what broke and where.
 */

export const WireType = {
  varint: 0,
  fixed64: 1,
  delimited: 2,
  startGroup: 3,
  endGroup: 4,
  fixed32: 5,
} as const

/** The message's bytes break the protobuf wire format. */
export class MalformedMessageError extends Error {
  override readonly name = 'MalformedMessageError'
}

const TWO_POW_32 = 2 ** 32
/** As protobuf's own parsers limit nesting: deeper groups would exhaust the stack. */
const MAX_GROUP_DEPTH = 100

export class ProtobufReader {
  /** The offset of the next byte to read. */
  at: number
  /** The high 32 bits of the last varint read by readVarint (its low 32 bits are what it returned). */
  high = 0

  /** The end of the message being read: of the whole buffer, or of the submessage entered. */
  end: number

  /** The same bytes as a Buffer, to decode strings from without a view per string. */
  private readonly buffer: Buffer

  constructor(readonly bytes: Uint8Array) {
    this.at = 0
    this.end = bytes.length
    this.buffer = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  get done(): boolean {
    return this.at >= this.end
  }

  /** Starts reading a length-delimited submessage: returns the outer end, to give back to leave. */
  enter(): number {
    const outer = this.end
    this.end = this.readLength()
    return outer
  }

  /** Ends reading the submessage entered, all of whose bytes were read. */
  leave(outer: number): void {
    this.end = outer
  }

  /** A field's tag: its number times 8 plus its wire type. */
  readTag(): number {
    const tag = this.readVarint()
    if (this.high !== 0 || tag >>> 3 === 0) this.fail(`an invalid field tag`)
    return tag
  }

  /** A varint: returns its low 32 bits (unsigned) and leaves its high 32 bits in `high`. */
  readVarint(): number {
    const { bytes, end } = this
    let at = this.at
    let low = 0
    let high = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (at >= end) this.fail('a truncated varint')
      const byte = bytes[at++]!
      low |= (byte & 0x7f) << shift
      if (byte < 0x80) return this.endVarint(at, low >>> 0, 0)
    }
    if (at >= end) this.fail('a truncated varint')
    let byte = bytes[at++]!
    low |= (byte & 0x0f) << 28
    high = (byte & 0x7f) >> 4
    if (byte < 0x80) return this.endVarint(at, low >>> 0, high)
    for (let shift = 3; shift < 32; shift += 7) {
      if (at >= end) this.fail('a truncated varint')
      byte = bytes[at++]!
      high |= (byte & 0x7f) << shift
      if (byte < 0x80) return this.endVarint(at, low >>> 0, high >>> 0)
    }
    return this.fail('a varint longer than 10 bytes')
  }

  /** A uint64 varint. */
  readUint64(): bigint {
    const low = this.readVarint()
    const high = this.high
    // Below 2 ** 53 a number holds it exactly.
    if (high < 0x200000) return BigInt(high * TWO_POW_32 + low)
    return (BigInt(high) << 32n) | BigInt(low)
  }

  /** An int64 varint (two's complement). */
  readInt64(): bigint {
    return BigInt.asIntN(64, this.readUint64())
  }

  /** An int64 varint as a number, rounded as google-protobuf's readInt64 rounds it. */
  readInt64Number(): number {
    let low = this.readVarint()
    let high = this.high
    const negative = high >= 0x80000000
    if (negative) {
      low = (~low + 1) >>> 0
      high = ~high >>> 0
      if (low === 0) high = (high + 1) >>> 0
    }
    const value = high * TWO_POW_32 + low
    return negative ? -value : value
  }

  /** An int32 varint: its low 32 bits, signed. */
  readInt32(): number {
    return this.readVarint() | 0
  }

  readBool(): boolean {
    return (this.readVarint() | this.high) !== 0
  }

  /** The length of a length-delimited field, checked against the bytes left; returns the field's end. */
  readLength(): number {
    const length = this.readVarint()
    if (this.high !== 0 || length > this.end - this.at) this.fail('a length past the end of the message')
    return this.at + length
  }

  /** A length-delimited field's bytes: a view on the message's bytes, not a copy. */
  readBytes(): Uint8Array {
    const end = this.readLength()
    const view = this.bytes.subarray(this.at, end)
    this.at = end
    return view
  }

  /** A string field, decoded as UTF-8 (invalid sequences become U+FFFD). */
  readString(): string {
    const end = this.readLength()
    const text = this.buffer.toString('utf8', this.at, end)
    this.at = end
    return text
  }

  /** Skips the value of a field whose tag was just read, whatever its wire type. */
  skip(tag: number, depth = 0): void {
    switch (tag & 7) {
      case WireType.varint:
        this.readVarint()
        return
      case WireType.fixed64:
        return this.advance(8)
      case WireType.delimited:
        this.at = this.readLength()
        return
      case WireType.startGroup:
        return this.skipGroup(tag >>> 3, depth + 1)
      case WireType.endGroup:
        return this.fail('an end of group without its start')
      case WireType.fixed32:
        return this.advance(4)
      default:
        this.fail(`wire type ${tag & 7}`)
    }
  }

  fail(what: string): never {
    throw new MalformedMessageError(`Malformed protobuf: ${what} at byte ${this.at}`)
  }

  private endVarint(at: number, low: number, high: number): number {
    this.at = at
    this.high = high
    return low
  }

  private advance(count: number): void {
    if (count > this.end - this.at) this.fail('a fixed-size field past the end of the message')
    this.at += count
  }

  private skipGroup(field: number, depth: number): void {
    if (depth > MAX_GROUP_DEPTH) this.fail(`groups nested deeper than ${MAX_GROUP_DEPTH}`)
    for (;;) {
      if (this.done) this.fail(`an unterminated group ${field}`)
      const tag = this.readTag()
      if ((tag & 7) === WireType.endGroup) {
        if (tag >>> 3 !== field) this.fail(`an end of group ${tag >>> 3} inside group ${field}`)
        return
      }
      this.skip(tag, depth)
    }
  }
}
