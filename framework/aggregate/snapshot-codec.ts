import type { AnyAggregate } from './define-aggregate.ts'

/** The event type snapshots are stored under, in the aggregate's snapshot stream. */
export const SNAPSHOT_EVENT_TYPE = 'annals.snapshot'

/** How many snapshots a snapshot stream keeps visible (`$maxCount`): the latest, and two to fall back on. */
export const SNAPSHOTS_KEPT = 3

/** A state the aggregate reached, and the revision of the last event folded into it. */
export interface Snapshot<TState = unknown> {
  readonly state: TState
  readonly revision: bigint
}

/** Command ids recently applied to an aggregate, oldest first: the revisions each appended, and its hash. */
export type RecentCommands = Iterable<
  readonly [string, { readonly first: bigint; readonly last: bigint; readonly hash?: string }]
>

/** A snapshot as it is decoded: the state, its revision, and the recent command window carried with it. */
export interface DecodedSnapshot<TState = unknown> extends Snapshot<TState> {
  readonly recentCommands: RecentCommands
}

interface SnapshotData {
  readonly aggregate: string
  readonly revision: string
  readonly state: unknown
  /** [command id, first revision, last revision, command hash (absent in snapshots written before it)] */
  readonly commands: readonly (readonly [string, string, string, string?])[]
}

/**
 * Encodes and decodes an aggregate's snapshots. A snapshot carries the state, the revision it stands for and
 * the recent command ids (for deduplication after a restart); decoding checks it against the state schema,
 * so a snapshot written before the state's shape changed is ignored rather than trusted.
 */
export const snapshotCodec = {
  /** True when the events from `before` (exclusive) to `after` (inclusive) cross a multiple of snapshotEvery. */
  isDue(aggregate: AnyAggregate, before: bigint, after: bigint): boolean {
    if (aggregate.snapshotEvery <= 0 || after <= before) return false
    const every = BigInt(aggregate.snapshotEvery)
    return (after + 1n) / every > (before + 1n) / every
  },

  /** The data and metadata of the snapshot event for a state at a revision. */
  encode(
    aggregate: AnyAggregate,
    snapshot: Snapshot,
    recentCommands: RecentCommands = [],
  ): { type: string; data: SnapshotData } {
    const commands = [...recentCommands].map(([id, { first, last, hash }]) =>
      hash === undefined
        ? ([id, String(first), String(last)] as const)
        : ([id, String(first), String(last), hash] as const),
    )
    return {
      type: SNAPSHOT_EVENT_TYPE,
      data: {
        aggregate: aggregate.name,
        revision: String(snapshot.revision),
        state: snapshot.state,
        commands,
      },
    }
  },

  /** The snapshot a stored snapshot event holds, or undefined when it is not one this aggregate can trust. */
  decode(aggregate: AnyAggregate, stored: { type: string; data: unknown }): DecodedSnapshot | undefined {
    if (stored.type !== SNAPSHOT_EVENT_TYPE || !isSnapshotData(stored.data)) return undefined
    if (stored.data.aggregate !== aggregate.name || !/^\d+$/.test(stored.data.revision)) return undefined
    const parsed = aggregate.state.safeParse(stored.data.state)
    if (!parsed.success) return undefined
    const recentCommands: [string, { first: bigint; last: bigint; hash?: string }][] = []
    for (const [id, first, last, hash] of stored.data.commands) {
      if (/^-?\d+$/.test(first) && /^-?\d+$/.test(last)) {
        const applied = { first: BigInt(first), last: BigInt(last) }
        recentCommands.push([id, typeof hash === 'string' ? { ...applied, hash } : applied])
      }
    }
    return { state: parsed.data, revision: BigInt(stored.data.revision), recentCommands }
  },
}

function isSnapshotData(data: unknown): data is SnapshotData {
  if (typeof data !== 'object' || data === null) return false
  const candidate = data as Partial<Record<keyof SnapshotData, unknown>>
  return (
    typeof candidate.aggregate === 'string' &&
    typeof candidate.revision === 'string' &&
    'state' in candidate &&
    Array.isArray(candidate.commands) &&
    candidate.commands.every(
      (entry) =>
        Array.isArray(entry) &&
        (entry.length === 3 || entry.length === 4) &&
        entry.every((part) => typeof part === 'string'),
    )
  )
}
