/**
 * Writing protobuf by hand: field and varint sizes, and writers that put a tag, a varint, bytes or a string
 * at an offset of a buffer sized in advance and return the offset after them. The devstore's hot replies
 * (read events, BatchAppend answers) are written with these instead of a google-protobuf message tree.
 */

const TWO_POW_53 = 2n ** 53n

/** A length-delimited field of `length` bytes with a one-byte tag. */
export function fieldBytes(length: number): number {
  return 1 + varintBytes(length) + length
}

export function bigVarintField(value: bigint): number {
  return value === 0n ? 0 : 1 + bigVarintBytes(value)
}

export function writeTag(out: Buffer, at: number, tag: number, length: number): number {
  out[at] = tag
  return writeVarint(out, at + 1, length)
}

export function writeByte(out: Buffer, at: number, byte: number): number {
  out[at] = byte
  return at + 1
}

export function writeString(out: Buffer, start: number, tag: number, value: string, length: number): number {
  const at = writeTag(out, start, tag, length)
  out.write(value, at, length, 'utf8')
  return at + length
}

export function writeBytes(out: Buffer, start: number, tag: number, value: Uint8Array): number {
  const at = writeTag(out, start, tag, value.length)
  out.set(value, at)
  return at + value.length
}

export function varintBytes(value: number): number {
  let bytes = 1
  while (value >= 0x80) {
    value = Math.floor(value / 0x80)
    bytes++
  }
  return bytes
}

export function writeVarint(out: Buffer, start: number, value: number): number {
  let at = start
  while (value >= 0x80) {
    out[at++] = (value % 0x80) | 0x80
    value = Math.floor(value / 0x80)
  }
  out[at++] = value
  return at
}

// uint64 revisions and positions, and int64 UUID halves (two's complement, as uint64).
export function bigVarintBytes(value: bigint): number {
  if (value >= 0n && value < TWO_POW_53) return varintBytes(Number(value))
  let bytes = 1
  for (let rest = BigInt.asUintN(64, value); rest >= 0x80n; rest >>= 7n) bytes++
  return bytes
}

export function writeBigVarint(out: Buffer, start: number, value: bigint): number {
  if (value >= 0n && value < TWO_POW_53) return writeVarint(out, start, Number(value))
  let at = start
  let rest = BigInt.asUintN(64, value)
  while (rest >= 0x80n) {
    out[at++] = Number(rest & 0x7fn) | 0x80
    rest >>= 7n
  }
  out[at++] = Number(rest)
  return at
}

/**
 * Wraps bytes written with these functions as a message of the class given, for grpc-js: it checks
 * `instanceof`, then calls serializeBinary, which here returns the bytes as they are.
 */
export function preEncoded<TMessage>(Message: { readonly prototype: TMessage }): (bytes: Buffer) => TMessage {
  const prototype: object = Object.create(Message.prototype as object, {
    serializeBinary: {
      value(this: { bytes: Buffer }): Uint8Array {
        return this.bytes
      },
    },
  }) as object
  return (bytes) => {
    const message = Object.create(prototype) as TMessage & { bytes: Buffer }
    message.bytes = bytes
    return message
  }
}
