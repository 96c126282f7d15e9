import type { RecentCommands } from '../aggregate/snapshot-codec.ts'

/** Metadata key under which an event records the id of the command that appended it. */
export const COMMAND_ID_KEY = 'commandId'

/** How many command ids an aggregate remembers for deduplication (carried through snapshots). */
export const RECENT_COMMANDS_KEPT = 256

/** The mutable window of recent commands a loaded aggregate keeps. */
export type RecentCommandWindow = Map<string, { first: bigint; last: bigint }>

/**
 * Records that a command appended the events `first..last` (`last` defaults to `first`, and widens an
 * entry already there), forgetting the oldest beyond the window. Returns the same window.
 */
export function rememberCommand(
  window: RecentCommandWindow,
  commandId: string,
  first: bigint,
  last: bigint = first,
): RecentCommandWindow {
  const known = window.get(commandId)
  if (known) {
    if (last > known.last) known.last = last
    return window
  }
  window.set(commandId, { first, last })
  if (window.size > RECENT_COMMANDS_KEPT) window.delete(window.keys().next().value!)
  return window
}

/** A fresh window holding what a snapshot carried. */
export function windowFrom(recent: RecentCommands | undefined): RecentCommandWindow {
  const window: RecentCommandWindow = new Map()
  for (const [id, range] of recent ?? []) window.set(id, { first: range.first, last: range.last })
  return window
}
