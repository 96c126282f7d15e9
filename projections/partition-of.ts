/** The partition ('0' … partitions-1) a key belongs to: a stable FNV-1a hash of the key, modulo the count. */
export function partitionOf(key: string, partitions: number): string {
  if (partitions === 1) return '0'
  let hash = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return String((hash >>> 0) % partitions)
}
