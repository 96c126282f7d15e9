import {
  ALL_STREAM,
  consumerStrategies,
  defaultGroupSettings,
  type AllFilter,
  type ConsumerStrategy,
  type GroupDefinition,
  type StartFrom,
} from './group-settings.ts'

/**
 * The data of a `$PersistentConfig` event: every group at once, as EventStoreDB keeps them in
 * `$persistentSubscriptionConfig`. Each change appends a whole new snapshot, so the last event is the
 * truth and nothing can drift from a side file.
 */
export interface PersistentConfig {
  readonly version: '2'
  readonly updated: string
  readonly updatedBy: string
  readonly entries: readonly ConfigEntry[]
}

interface ConfigEntry {
  readonly stream: string
  readonly group: string
  readonly startFrom: string
  readonly filter?: AllFilter
  readonly resolveLinkTos: boolean
  readonly extraStatistics: boolean
  readonly messageTimeout: number
  readonly maxRetryCount: number
  readonly checkPointAfter: number
  readonly minCheckPointCount: number
  readonly maxCheckPointCount: number
  readonly maxSubscriberCount: number
  readonly liveBufferSize: number
  readonly readBatchSize: number
  readonly bufferSize: number
  readonly namedConsumerStrategy: ConsumerStrategy
}

/** The config event's data for these definitions. */
export function encodeConfig(definitions: Iterable<GroupDefinition>, now: Date): PersistentConfig {
  const entries = [...definitions].map(({ stream, group, startFrom, filter, settings }): ConfigEntry => ({
    stream,
    group,
    startFrom: formatStartFrom(stream, startFrom),
    ...(filter === undefined ? {} : { filter }),
    resolveLinkTos: settings.resolveLinks,
    extraStatistics: settings.extraStatistics,
    messageTimeout: settings.messageTimeoutMs,
    maxRetryCount: settings.maxRetryCount,
    checkPointAfter: settings.checkpointAfterMs,
    minCheckPointCount: settings.minCheckpointCount,
    maxCheckPointCount: settings.maxCheckpointCount,
    maxSubscriberCount: settings.maxSubscriberCount,
    liveBufferSize: settings.liveBufferSize,
    readBatchSize: settings.readBatchSize,
    bufferSize: settings.historyBufferSize,
    namedConsumerStrategy: settings.strategy,
  }))
  return { version: '2', updated: now.toISOString(), updatedBy: 'admin', entries }
}

/** The definitions in a config event's data; entries it cannot read are left out rather than fatal. */
export function decodeConfig(data: unknown): GroupDefinition[] {
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { entries?: unknown }).entries))
    return []
  const definitions: GroupDefinition[] = []
  for (const raw of (data as { entries: unknown[] }).entries) {
    const entry = raw as Partial<ConfigEntry>
    if (typeof entry.stream !== 'string' || typeof entry.group !== 'string') continue
    const strategy = consumerStrategies.find((name) => name === entry.namedConsumerStrategy) ?? 'RoundRobin'
    const number = (value: unknown, fallback: number) => (typeof value === 'number' ? value : fallback)
    const defaults = defaultGroupSettings
    definitions.push({
      stream: entry.stream,
      group: entry.group,
      startFrom: parseStartFrom(String(entry.startFrom ?? '-1')),
      ...(entry.filter === undefined ? {} : { filter: entry.filter }),
      settings: {
        resolveLinks: entry.resolveLinkTos === true,
        extraStatistics: entry.extraStatistics === true,
        messageTimeoutMs: number(entry.messageTimeout, defaults.messageTimeoutMs),
        maxRetryCount: number(entry.maxRetryCount, defaults.maxRetryCount),
        checkpointAfterMs: number(entry.checkPointAfter, defaults.checkpointAfterMs),
        minCheckpointCount: number(entry.minCheckPointCount, defaults.minCheckpointCount),
        maxCheckpointCount: number(entry.maxCheckPointCount, defaults.maxCheckpointCount),
        maxSubscriberCount: number(entry.maxSubscriberCount, defaults.maxSubscriberCount),
        liveBufferSize: number(entry.liveBufferSize, defaults.liveBufferSize),
        readBatchSize: number(entry.readBatchSize, defaults.readBatchSize),
        historyBufferSize: number(entry.bufferSize, defaults.historyBufferSize),
        strategy,
      },
    })
  }
  return definitions
}

/**
 * A start point as GetInfo shows it and the client parses it back: "0" and "-1" for a stream's start
 * and end, else the revision; "C:0/P:0", "C:-1/P:-1" or "C:<commit>/P:<prepare>" for `$all`.
 */
export function formatStartFrom(stream: string, startFrom: StartFrom): string {
  const value = startFrom.kind === 'start' ? 0n : startFrom.kind === 'end' ? -1n : startFrom.value
  return stream === ALL_STREAM ? formatPosition(value) : value.toString()
}

/** A `$all` position as the client parses it. */
export function formatPosition(position: bigint): string {
  return `C:${position}/P:${position}`
}

function parseStartFrom(text: string): StartFrom {
  const match = /^C:(-?\d+)\/P:-?\d+$/.exec(text)
  const value = BigInt(match?.[1] ?? text)
  if (value === 0n) return { kind: 'start' }
  if (value < 0n) return { kind: 'end' }
  return { kind: 'at', value }
}
