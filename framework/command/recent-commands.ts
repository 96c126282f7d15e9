/** Metadata key under which an event records the id of the command that appended it. */
export const COMMAND_ID_KEY = 'commandId'

/** Metadata key under which an event records what its command asked: its name and input, hashed. */
export const COMMAND_HASH_KEY = 'commandHash'

/** How many command ids an aggregate remembers for deduplication by default (carried through snapshots). */
export const RECENT_COMMANDS_KEPT = 256

/** A command applied to an aggregate: the revisions of the events it appended, and what it asked. */
export interface AppliedCommand {
  readonly first: bigint
  readonly last: bigint
  /** The hash of its name and input (commandHash); absent for events written before it was recorded. */
  readonly hash?: string
}

/**
 * The command ids an aggregate applied last, at most `capacity` of them, oldest forgotten first: a repeated
 * id within the window is answered with its first result instead of appending again.
 */
export class RecentCommandWindow {
  private readonly applied = new Map<string, AppliedCommand>()
  // The ids in the order they were remembered, as a ring: forgetting the oldest costs no scan.
  private readonly order: string[] = []
  private oldest = 0

  constructor(readonly capacity: number = RECENT_COMMANDS_KEPT) {}

  get size(): number {
    return this.applied.size
  }

  get(commandId: string): AppliedCommand | undefined {
    return this.applied.get(commandId)
  }

  /** Records that a command appended `first..last`; a command already known widens its range to `last`. */
  remember(commandId: string, first: bigint, last: bigint = first, hash?: string): void {
    const known = this.applied.get(commandId)
    if (known) {
      if (last > known.last) this.applied.set(commandId, { ...known, last })
      return
    }
    this.applied.set(commandId, hash === undefined ? { first, last } : { first, last, hash })
    if (this.order.length < this.capacity) {
      this.order.push(commandId)
      return
    }
    this.applied.delete(this.order[this.oldest]!)
    this.order[this.oldest] = commandId
    this.oldest = (this.oldest + 1) % this.capacity
  }

  /** The commands remembered, oldest first (what a snapshot carries). */
  *[Symbol.iterator](): IterableIterator<readonly [string, AppliedCommand]> {
    for (let index = 0; index < this.order.length; index++) {
      const commandId = this.order[(this.oldest + index) % this.order.length]!
      yield [commandId, this.applied.get(commandId)!]
    }
  }

  /** A window of `capacity` holding `recent` (the newest of them when they are more). */
  static from(recent: Iterable<readonly [string, AppliedCommand]> | undefined, capacity?: number) {
    const window = new RecentCommandWindow(capacity)
    for (const [commandId, { first, last, hash }] of recent ?? [])
      window.remember(commandId, first, last, hash)
    return window
  }
}

/**
 * The hash a command's events record of what it asked: its name and its parsed input (zod builds a parsed
 * object's keys in the schema's order, so the same input hashes alike however its sender ordered it). Two
 * FNV-1a lanes with different offsets, 64 bits: enough to tell a reused command id from a repeated command,
 * at a tenth of a cryptographic digest's cost on the command path.
 */
export function commandHash(command: string, input: unknown): string {
  let json: string
  try {
    json = JSON.stringify(input) ?? ''
  } catch {
    // A value JSON cannot write (a bigint): its string form instead.
    json = JSON.stringify(input, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value))
  }
  const text = `${command}\u0000${json}`
  let low = 0x811c9dc5
  let high = 0x6c62272e
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    low = Math.imul(low ^ code, 0x01000193)
    high = Math.imul(high ^ code ^ (low >>> 24), 0x01000193)
  }
  return (high >>> 0).toString(36) + '.' + (low >>> 0).toString(36)
}
