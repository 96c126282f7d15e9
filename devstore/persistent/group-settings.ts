/**
 * What a subscription group is: its source, its start point and its settings, as stored in the
 * `$persistentSubscriptionConfig` stream and as the client's Create and Update calls describe them.
 */

export const consumerStrategies = ['RoundRobin', 'DispatchToSingle', 'Pinned'] as const
export type ConsumerStrategy = (typeof consumerStrategies)[number]

/** Where a group starts when it has no checkpoint: the start, the end, or after a revision/position. */
export type StartFrom = { kind: 'start' } | { kind: 'end' } | { kind: 'at'; value: bigint }

/** A `$all` filter as the client sends it: on stream names or event types, by regex or by prefixes. */
export interface AllFilter {
  readonly on: 'stream' | 'eventType'
  readonly regex?: string
  readonly prefixes?: readonly string[]
}

export interface GroupSettings {
  readonly resolveLinks: boolean
  readonly extraStatistics: boolean
  readonly messageTimeoutMs: number
  readonly maxRetryCount: number
  readonly checkpointAfterMs: number
  readonly minCheckpointCount: number
  readonly maxCheckpointCount: number
  /** 0 means unbounded. */
  readonly maxSubscriberCount: number
  readonly liveBufferSize: number
  readonly readBatchSize: number
  readonly historyBufferSize: number
  readonly strategy: ConsumerStrategy
}

export interface GroupDefinition {
  /** The stream name, or `$all`. */
  readonly stream: string
  readonly group: string
  readonly startFrom: StartFrom
  readonly filter?: AllFilter
  readonly settings: GroupSettings
}

export const ALL_STREAM = '$all'

/** The client's defaults (persistentSubscriptionToStreamSettingsFromDefaults). */
export const defaultGroupSettings: GroupSettings = {
  resolveLinks: false,
  extraStatistics: false,
  messageTimeoutMs: 30_000,
  maxRetryCount: 10,
  checkpointAfterMs: 2_000,
  minCheckpointCount: 10,
  maxCheckpointCount: 1_000,
  maxSubscriberCount: 0,
  liveBufferSize: 500,
  readBatchSize: 20,
  historyBufferSize: 500,
  strategy: 'RoundRobin',
}

/** The key a group is known by: EventStoreDB's `<stream>::<group>`. */
export function groupKey(stream: string, group: string): string {
  return `${stream}::${group}`
}

/** The stream that holds a group's parked messages. */
export function parkedStreamName(stream: string, group: string): string {
  return `$persistentsubscription-${groupKey(stream, group)}-parked`
}

/** The stream that holds a group's `$SubscriptionCheckpoint` events. */
export function checkpointStreamName(stream: string, group: string): string {
  return `$persistentsubscription-${groupKey(stream, group)}-checkpoint`
}

export const CONFIG_STREAM = '$persistentSubscriptionConfig'
export const CONFIG_EVENT_TYPE = '$PersistentConfig'
export const CHECKPOINT_EVENT_TYPE = '$SubscriptionCheckpoint'

/** Streams the subsystem writes for its own bookkeeping, never delivered to a `$all` group. */
export function isBookkeepingStream(stream: string): boolean {
  return stream === CONFIG_STREAM || stream.startsWith('$persistentsubscription-')
}

/** Whether an event passes a `$all` group's filter. */
export function matchesFilter(filter: AllFilter | undefined, stream: string, eventType: string): boolean {
  if (filter === undefined) return true
  const subject = filter.on === 'stream' ? stream : eventType
  if (filter.prefixes !== undefined && filter.prefixes.length > 0) {
    return filter.prefixes.some((prefix) => subject.startsWith(prefix))
  }
  if (filter.regex !== undefined && filter.regex !== '') return new RegExp(filter.regex).test(subject)
  return true
}
