import type { HeldKey } from './read-models/read-model-store.ts'

/**
 * What a restart knows of the held keys until the log has been read again up to the checkpoint. The
 * checkpoint moves past held events, so it carries the held keys; after a restart the engine reads the log
 * again from before the oldest and folds, in order, the events of held keys it had not folded.
 */
export interface HeldKeysRestore {
  /** The earliest `after`: where the log is read again from. */
  readonly after: bigint
  /** The last position read again; a resubscription goes on from there. */
  cursor: bigint
  /** Whether an event of `key` at `position` was held at the checkpoint, so it is to be folded again. */
  wasHeld(key: string, position: bigint): boolean
  /** The restored keys not held now: their events after the cursor are still to fold again. */
  unfolded(isHeld: (key: string) => boolean): HeldKey[]
}

/** Starts reading back the held keys a checkpoint recorded; undefined when it recorded none. */
export function restoreHeldKeys(held: readonly HeldKey[] | undefined): HeldKeysRestore | undefined {
  if (held === undefined || held.length === 0) return undefined
  let after = held[0]!.after
  for (const entry of held) if (entry.after < after) after = entry.after
  /** The first held position per key: its events from there on are folded again. */
  const keys: ReadonlyMap<string, bigint> = new Map(held.map((entry) => [entry.key, entry.position]))
  const restore: HeldKeysRestore = {
    after,
    cursor: after,
    wasHeld(key, position) {
      const first = keys.get(key)
      return first !== undefined && position >= first
    },
    unfolded(isHeld) {
      const unfolded: HeldKey[] = []
      for (const [key, first] of keys) {
        if (isHeld(key)) continue
        const next = restore.cursor + 1n
        unfolded.push({ key, position: first > next ? first : next, after })
      }
      return unfolded
    },
  }
  return restore
}
