import crypto from 'node:crypto'

/** The UUID namespace of event ids derived by Annals (RFC 9562 name-based, version 5). */
export const ANNALS_NAMESPACE = '2772b75e-707b-4ad2-8c08-80001070d22f'

const NAMESPACE_BYTES = 16
// Reused input buffer: hashing is synchronous, so one buffer serves every call.
let scratch = Buffer.alloc(256)
Buffer.from(ANNALS_NAMESPACE.replaceAll('-', ''), 'hex').copy(scratch)
// Views of its first n bytes, by n: names of one shape (an id and an index) hash the same view each time.
let views: Buffer[] = []

// crypto.hash (Node 20.12+) skips the Hash object; hex output is far cheaper than a Buffer from it.
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'hex') => string }).hash
const sha1Hex = (data: Buffer): string =>
  oneShot ? oneShot('sha1', data, 'hex') : crypto.createHash('sha1').update(data).digest('hex')

/**
 * The UUID (RFC 9562 name-based, version 5, in Annals' namespace) of a name: the same name always gives the same
 * id. Annals derives every id a repeat must reproduce this way (events of a command, reactor checkpoints and
 * commands); use it for idempotent ids of your own.
 *
 * @example
 * nameBasedUuid('my-importer/batch-7') // always the same UUID
 */
export function nameBasedUuid(name: string): string {
  // A UTF-16 unit takes at most three UTF-8 bytes: only a long name needs its exact length measured.
  if (NAMESPACE_BYTES + name.length * 3 > scratch.length) {
    const needed = NAMESPACE_BYTES + Buffer.byteLength(name)
    if (needed > scratch.length) {
      const larger = Buffer.alloc(needed * 2)
      scratch.copy(larger, 0, 0, NAMESPACE_BYTES)
      scratch = larger
      views = []
    }
  }
  const length = NAMESPACE_BYTES + scratch.write(name, NAMESPACE_BYTES, 'utf8')
  const hex = sha1Hex((views[length] ??= scratch.subarray(0, length)))
  // Version 5 in the high nibble of byte 6; the RFC variant (10xx) in the high bits of byte 8.
  const variant = VARIANT_DIGITS[hexValue(hex.charCodeAt(16)) & 0x3]!
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

const VARIANT_DIGITS = '89ab'

/** The value of a lowercase hex digit's character code. */
function hexValue(code: number): number {
  return code <= 0x39 ? code - 0x30 : code - 0x57
}

/**
 * Derives the id of the `index`th event a command appends from the command's id, so a retried command proposes
 * the same ids and the event store recognises it.
 */
export function deriveEventId(commandId: string, index: number): string {
  return nameBasedUuid(`${commandId}/${index}`)
}
