import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import type { CreateReq, UpdateReq } from '@eventstore/db-client/generated/persistent_pb.js'
import type { StreamIdentifier } from '@eventstore/db-client/generated/shared_pb.js'
import {
  ALL_STREAM,
  consumerStrategies,
  type AllFilter,
  type ConsumerStrategy,
  type GroupDefinition,
  type GroupSettings,
  type StartFrom,
} from './group-settings.ts'
import { invalidArgument } from './persistent-errors.ts'

/** The largest UInt64: the client's way of saying "from the end" in the deprecated revision field. */
const END_REVISION = '18446744073709551615'
const TICKS_PER_MS = 10_000

/**
 * Reads a Create or Update request into a group definition. The client sends the stream either in the
 * deprecated `stream_identifier` field with the start in `settings.revision` (what 6.x does for
 * streams) or in `stream`/`all` options; both are accepted. Throws an INVALID_ARGUMENT error.
 */
export function parseGroupRequest(request: CreateReq | UpdateReq): GroupDefinition {
  const options = request.getOptions()
  if (options === undefined) throw invalidArgument('The request carries no options.')
  const group = options.getGroupName()
  if (group === '') throw invalidArgument('The group name is empty.')
  const settingsMessage = options.getSettings()
  if (settingsMessage === undefined) throw invalidArgument('The request carries no settings.')
  const settings = parseSettings(settingsMessage)

  const all = options.getAll()
  if (all !== undefined) {
    const startFrom: StartFrom = all.hasStart()
      ? { kind: 'start' }
      : all.hasPosition()
        ? { kind: 'at', value: BigInt(all.getPosition()?.getCommitPosition() ?? '0') }
        : { kind: 'end' }
    const filter = 'getFilter' in all ? parseFilter(all.getFilter()) : undefined
    return { stream: ALL_STREAM, group, startFrom, settings, ...(filter === undefined ? {} : { filter }) }
  }

  const streamOptions = options.getStream()
  const identifier = streamOptions?.getStreamIdentifier() ?? options.getStreamIdentifier()
  if (identifier === undefined) throw invalidArgument('The request names no stream.')
  const stream = Buffer.from(identifier.getStreamName()).toString('utf8')
  if (stream === '') throw invalidArgument('The stream name is empty.')
  let startFrom: StartFrom
  if (streamOptions?.hasStart() === true) startFrom = { kind: 'start' }
  else if (streamOptions?.hasEnd() === true) startFrom = { kind: 'end' }
  else
    startFrom = parseRevision(
      streamOptions?.hasRevision() === true ? streamOptions.getRevision() : settingsMessage.getRevision(),
    )
  return { stream, group, startFrom, settings }
}

/** The stream an options message names, or `$all`. */
export function sourceOf(
  options: { hasAll(): boolean; getStreamIdentifier(): StreamIdentifier | undefined } | undefined,
): string {
  if (options === undefined) throw invalidArgument('The request carries no options.')
  if (options.hasAll()) return ALL_STREAM
  const identifier = options.getStreamIdentifier()
  if (identifier === undefined) throw invalidArgument('The request names no stream.')
  return Buffer.from(identifier.getStreamName()).toString('utf8')
}

function parseRevision(revision: string): StartFrom {
  if (revision === '' || revision === '0') return { kind: 'start' }
  if (revision === END_REVISION || revision === '-1') return { kind: 'end' }
  return { kind: 'at', value: BigInt(revision) }
}

function parseSettings(settings: CreateReq.Settings | UpdateReq.Settings): GroupSettings {
  const messageTimeoutMs = settings.hasMessageTimeoutMs()
    ? settings.getMessageTimeoutMs()
    : Number(BigInt(settings.getMessageTimeoutTicks() || '0') / BigInt(TICKS_PER_MS))
  const checkpointAfterMs = settings.hasCheckpointAfterMs()
    ? settings.getCheckpointAfterMs()
    : Number(BigInt(settings.getCheckpointAfterTicks() || '0') / BigInt(TICKS_PER_MS))
  const parsed: GroupSettings = {
    resolveLinks: settings.getResolveLinks(),
    extraStatistics: settings.getExtraStatistics(),
    messageTimeoutMs,
    maxRetryCount: settings.getMaxRetryCount(),
    checkpointAfterMs,
    minCheckpointCount: settings.getMinCheckpointCount(),
    maxCheckpointCount: settings.getMaxCheckpointCount(),
    maxSubscriberCount: settings.getMaxSubscriberCount(),
    liveBufferSize: settings.getLiveBufferSize(),
    readBatchSize: settings.getReadBatchSize(),
    historyBufferSize: settings.getHistoryBufferSize(),
    strategy: parseStrategy(settings),
  }
  if (parsed.messageTimeoutMs < 0 || parsed.checkpointAfterMs < 0 || parsed.maxRetryCount < 0) {
    throw invalidArgument('Timeouts and retry counts must not be negative.')
  }
  return parsed
}

function parseStrategy(settings: CreateReq.Settings | UpdateReq.Settings): ConsumerStrategy {
  const named = 'getConsumerStrategy' in settings ? settings.getConsumerStrategy() : ''
  if (named !== '') {
    if (named === 'PinnedByCorrelation') return 'Pinned'
    if ((consumerStrategies as readonly string[]).includes(named)) return named as ConsumerStrategy
    throw invalidArgument(`Unknown consumer strategy ${named}.`)
  }
  const { ConsumerStrategy } = persistentPb.CreateReq
  switch (settings.getNamedConsumerStrategy()) {
    case ConsumerStrategy.DISPATCHTOSINGLE:
      return 'DispatchToSingle'
    case ConsumerStrategy.PINNED:
      return 'Pinned'
    default:
      return 'RoundRobin'
  }
}

function parseFilter(filter: CreateReq.AllOptions.FilterOptions | undefined): AllFilter | undefined {
  if (filter === undefined) return undefined
  const byStream = filter.getStreamIdentifier()
  const expression = byStream ?? filter.getEventType()
  if (expression === undefined) return undefined
  const prefixes = expression.getPrefixList()
  const regex = expression.getRegex()
  return {
    on: byStream !== undefined ? 'stream' : 'eventType',
    ...(prefixes.length > 0 ? { prefixes } : {}),
    ...(regex !== '' ? { regex } : {}),
  }
}
