// The engine's constants, apart from engine.ts so the implementation can import them without a cycle.

/** The revision of the `$streamDeleted` tombstone event, and the `$tb` a soft delete writes (int64 max). */
export const DELETED_REVISION = 9223372036854775807n

/**
 * What a fresh database holds before any append, as EventStoreDB's own nodes do: the `$metadata` of its stats
 * and scavenge streams. They sit in `$all` (so it is never empty) and are filtered out by excludeSystemEvents.
 */
export const SYSTEM_EVENTS_ON_CREATE: readonly { stream: string; type: string; json: string }[] = [
  { stream: '$$$stats-127.0.0.1:2113', type: '$metadata', json: '{"$maxAge":86400}' },
  { stream: '$$$scavenges', type: '$metadata', json: '{"$maxAge":2592000}' },
]

/** The default limit on one append: the sum of data and metadata bytes of its events. */
export const MAX_APPEND_SIZE = 1_048_576
