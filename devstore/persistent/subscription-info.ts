import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import type { SubscriptionInfo } from '@eventstore/db-client/generated/persistent_pb.js'
import { formatPosition, formatStartFrom } from './group-config.ts'
import type { GroupRuntime } from './group-runtime.ts'
import { ALL_STREAM } from './group-settings.ts'

/** What GetInfo and List say about a group: its settings, its consumers and its counters. */
export async function toSubscriptionInfo(runtime: GroupRuntime): Promise<SubscriptionInfo> {
  const { stream, group, startFrom, settings } = runtime.definition
  const state = runtime.state
  const formatSequence = (value: bigint | undefined) =>
    value === undefined ? '' : stream === ALL_STREAM ? formatPosition(value) : value.toString()

  const now = Date.now()
  const rate = state.delivered.measure(now)
  const info = new persistentPb.SubscriptionInfo()
  info.setEventSource(stream)
  info.setGroupName(group)
  info.setStatus(runtime.isLive ? 'Live' : 'Behind')
  info.setConnectionsList(connectionsOf(runtime, now))
  info.setAveragePerSecond(Math.round(rate.averagePerSecond))
  info.setTotalItems(state.totalDelivered.toString())
  info.setCountSinceLastMeasurement(rate.countSinceLastMeasurement.toString())
  info.setLastCheckpointedEventPosition(formatSequence(state.checkpoints.storedCheckpoint))
  info.setLastKnownEventPosition(formatSequence(runtime.lastKnown()))
  info.setResolveLinkTos(settings.resolveLinks)
  info.setStartFrom(formatStartFrom(stream, startFrom))
  info.setMessageTimeoutMilliseconds(settings.messageTimeoutMs)
  info.setExtraStatistics(settings.extraStatistics)
  info.setMaxRetryCount(settings.maxRetryCount)
  info.setLiveBufferSize(settings.liveBufferSize)
  info.setBufferSize(settings.historyBufferSize)
  info.setReadBatchSize(settings.readBatchSize)
  info.setCheckPointAfterMilliseconds(settings.checkpointAfterMs)
  info.setMinCheckPointCount(settings.minCheckpointCount)
  info.setMaxCheckPointCount(settings.maxCheckpointCount)
  info.setReadBufferCount(state.bufferedCount)
  info.setLiveBufferCount('0')
  info.setRetryBufferCount(state.retryCount)
  info.setTotalInFlightMessages(state.inFlightCount)
  info.setOutstandingMessagesCount(state.inFlightCount)
  info.setNamedConsumerStrategy(settings.strategy)
  info.setMaxSubscriberCount(settings.maxSubscriberCount)
  info.setParkedMessageCount((await runtime.parkedCount()).toString())
  return info
}

function connectionsOf(runtime: GroupRuntime, now: number): SubscriptionInfo.ConnectionInfo[] {
  const loads = new Map(runtime.state.describeConsumers().map((load) => [load.id, load]))
  return runtime.consumers.map((consumer) => {
    const load = loads.get(consumer.id)
    const rate = load?.delivered.measure(now)
    const connection = new persistentPb.SubscriptionInfo.ConnectionInfo()
    // EventStoreDB leaves `from` empty for gRPC connections.
    connection.setFrom('')
    connection.setUsername(consumer.username)
    connection.setAverageItemsPerSecond(Math.round(rate?.averagePerSecond ?? 0))
    connection.setTotalItems((load?.delivered.totalItems ?? 0).toString())
    connection.setCountSinceLastMeasurement((rate?.countSinceLastMeasurement ?? 0).toString())
    connection.setAvailableSlots(load === undefined ? 0 : load.capacity - load.inFlight)
    connection.setInFlightMessages(load?.inFlight ?? 0)
    connection.setConnectionName(consumer.name)
    connection.setObservedMeasurementsList(
      (load?.latencies?.measurements() ?? []).map(({ key, value }) => {
        const measurement = new persistentPb.SubscriptionInfo.Measurement()
        measurement.setKey(key)
        measurement.setValue(value.toString())
        return measurement
      }),
    )
    return connection
  })
}
