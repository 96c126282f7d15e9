/**
 * Reads stream metadata (the JSON of a `$metadata` event) into the rules reads apply. `$tb` and `$maxCount`
 * are read from the text as well, since a soft delete's `$tb` (int64 max) does not survive JSON.parse.
 */
import { DELETED_REVISION } from './engine-constants.ts'
import type { StreamMetadata } from './engine.ts'

export function parseStreamMetadata(bytes: Uint8Array): StreamMetadata {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  let raw: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
      raw = parsed as Record<string, unknown>
  } catch {
    return { raw }
  }
  const truncateBefore = integerField(text, raw, '$tb')
  const maxCount = integerField(text, raw, '$maxCount')
  const maxAge = typeof raw['$maxAge'] === 'number' && raw['$maxAge'] > 0 ? raw['$maxAge'] : undefined
  return {
    raw,
    ...(truncateBefore === undefined ? {} : { truncateBefore }),
    ...(maxCount === undefined || maxCount <= 0n ? {} : { maxCount }),
    ...(maxAge === undefined ? {} : { maxAge }),
  }
}

/** The JSON a soft delete writes. */
export const SOFT_DELETE_METADATA = `{"$tb":${DELETED_REVISION}}`

/** The metadata an append to a soft-deleted stream writes first: the old keys, `$tb` at its new first revision. */
export function undeleteMetadata(previous: StreamMetadata | undefined, firstRevision: bigint): string {
  const { $tb: _tb, ...rest } = previous?.raw ?? {}
  const others = JSON.stringify(rest)
  return others === '{}' ? `{"$tb":${firstRevision}}` : `{"$tb":${firstRevision},${others.slice(1)}`
}

function integerField(
  text: string,
  raw: Record<string, unknown>,
  key: '$tb' | '$maxCount',
): bigint | undefined {
  const value = raw[key]
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) return undefined
  if (Number.isSafeInteger(value)) return BigInt(value)
  const match = new RegExp(`"\\${key}"\\s*:\\s*(\\d+)`).exec(text)
  return match?.[1] === undefined ? DELETED_REVISION : BigInt(match[1])
}
