import { LRUCache } from 'lru-cache'

/**
 * Rendezvous (highest random weight) hashing: every member draws a weight for a key and the heaviest owns it.
 * Every replica with the same member list picks the same owner, and a member that comes or goes moves only
 * the keys it wins or held.
 *
 * The hash: a 64-bit digest of the key from two 32-bit Math.imul lanes (the cyrb53 construction, kept at its
 * full 64 bits), and per member a weight from that digest xor the member's own digest, mixed through
 * murmur3's fmix32 finaliser with the lanes cross-fed so both halves depend on all 64 input bits. It needs no
 * BigInt and allocates nothing, so one lookup over a handful of members costs well under a microsecond. It
 * is not cryptographic; ownership only needs it to be uniform and the same on every replica.
 */
export interface Digest {
  readonly high: number
  readonly low: number
}

/** The owner of `key` among `members` (by id), or undefined when there are none. */
export function rendezvousOwner(key: string, members: readonly string[]): string | undefined {
  return rendezvousOwnerOfDigest(digest64(key), members)
}

/** As rendezvousOwner, for a key digested once (the router digests each aggregate once per command). */
export function rendezvousOwnerOfDigest(key: Digest, members: readonly string[]): string | undefined {
  let owner: string | undefined
  let bestHigh = -1
  let bestLow = -1
  for (const member of members) {
    const seed = memberDigest(member)
    const high = fmix32((key.high ^ seed.high) >>> 0)
    const low = fmix32((key.low ^ seed.low ^ Math.imul(high, 0x9e3779b1)) >>> 0)
    const mixedHigh = fmix32((high ^ low) >>> 0)
    if (
      mixedHigh > bestHigh ||
      (mixedHigh === bestHigh &&
        (low > bestLow || (low === bestLow && owner !== undefined && member < owner)))
    ) {
      owner = member
      bestHigh = mixedHigh
      bestLow = low
    }
  }
  return owner
}

/** The key an aggregate instance is placed by: its type name and id, so equal ids of two types spread apart. */
export function aggregateKey(aggregate: string, id: string): string {
  return `${aggregate}\u0000${id}`
}

/** A 64-bit digest of a string, as two unsigned 32-bit halves. */
export function digest64(text: string, seed = 0): Digest {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ code, 2654435761)
    h2 = Math.imul(h2 ^ code, 1597334677)
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507)
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507)
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  return { high: h2 >>> 0, low: h1 >>> 0 }
}

// Members are few and long-lived; the bound only guards against a process that churns through URLs.
const memberDigests = new LRUCache<string, Digest>({ max: 4096 })

function memberDigest(member: string): Digest {
  let cached = memberDigests.get(member)
  if (cached === undefined) {
    cached = digest64(member, 0x5bd1e995)
    memberDigests.set(member, cached)
  }
  return cached
}

function fmix32(value: number): number {
  let h = value
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
