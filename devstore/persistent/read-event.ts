import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import type { ReadResp } from '@eventstore/db-client/generated/persistent_pb.js'
import type { StoredEvent } from '../engine/engine.ts'

/** What a group delivers: the event, and the link it was reached through when links are resolved. */
export interface Delivery {
  readonly event: StoredEvent
  readonly link?: StoredEvent
}

const TICKS_PER_MS = 10_000n

/** The Read reply that hands one message to a consumer, with its retry count. */
export function toReadResponse(delivery: Delivery, retryCount: number): ReadResp {
  const readEvent = new persistentPb.ReadResp.ReadEvent()
  readEvent.setEvent(toRecordedEvent(delivery.event))
  if (delivery.link !== undefined) readEvent.setLink(toRecordedEvent(delivery.link))
  readEvent.setCommitPosition((delivery.link ?? delivery.event).position.toString())
  readEvent.setRetryCount(retryCount)
  const response = new persistentPb.ReadResp()
  response.setEvent(readEvent)
  return response
}

/** The Read reply that confirms a consumer joined. */
export function toConfirmation(subscriptionId: string): ReadResp {
  const confirmation = new persistentPb.ReadResp.SubscriptionConfirmation()
  confirmation.setSubscriptionId(subscriptionId)
  const response = new persistentPb.ReadResp()
  response.setSubscriptionConfirmation(confirmation)
  return response
}

function toRecordedEvent(event: StoredEvent): ReadResp.ReadEvent.RecordedEvent {
  const uuid = new sharedPb.UUID()
  uuid.setString(event.id)
  const identifier = new sharedPb.StreamIdentifier()
  identifier.setStreamName(Buffer.from(event.stream, 'utf8'))
  const recorded = new persistentPb.ReadResp.ReadEvent.RecordedEvent()
  recorded.setId(uuid)
  recorded.setStreamIdentifier(identifier)
  recorded.setStreamRevision(event.revision.toString())
  recorded.setPreparePosition(event.position.toString())
  recorded.setCommitPosition(event.position.toString())
  const metadata = recorded.getMetadataMap()
  metadata.set('type', event.type)
  metadata.set('content-type', event.contentType)
  metadata.set('created', (BigInt(event.created) * TICKS_PER_MS).toString())
  recorded.setCustomMetadata(event.metadata)
  recorded.setData(event.data)
  return recorded
}
