import { createHash } from 'node:crypto'

/** The UUID namespace of event ids derived by Annals (RFC 9562 name-based, version 5). */
export const ANNALS_NAMESPACE = '2772b75e-707b-4ad2-8c08-80001070d22f'

const namespaceBytes = Buffer.from(ANNALS_NAMESPACE.replaceAll('-', ''), 'hex')

/**
 * Derives the id of the `index`th event a command appends from the command's id (UUID v5), so a retried
 * command proposes the same ids and the event store recognises it.
 *
 * @example
 * deriveEventId('5c7e…', 0) // always the same UUID for the same command id and index
 */
export function deriveEventId(commandId: string, index: number): string {
  const hash = createHash('sha1').update(namespaceBytes).update(`${commandId}/${index}`).digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.toString('hex', 0, 16)
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
