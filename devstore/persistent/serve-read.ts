import { randomUUID } from 'node:crypto'
import type { ServerDuplexStream } from '@grpc/grpc-js'
import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import type { ReadReq, ReadResp } from '@eventstore/db-client/generated/persistent_pb.js'
import type { UUID } from '@eventstore/db-client/generated/shared_pb.js'
import type { ConsumerConnection, GroupRuntime } from './group-runtime.ts'
import { groupKey } from './group-settings.ts'
import type { OpenCalls } from '../grpc/open-calls.ts'
import type { AccessControl } from '../access/access-control.ts'
import { accessDenied, endedByServer } from '../grpc/status-errors.ts'
import {
  maximumSubscribersReached,
  notReady,
  subscriptionDropped,
  subscriptionMissing,
  type PersistentError,
} from './persistent-errors.ts'
import { sourceOf } from './parse-group-request.ts'
import type { PersistentSubsystem } from './persistent-subsystem.ts'
import { toConfirmation } from './read-event.ts'
import type { NackAction } from './subscription-group.ts'

const nackActions: Record<number, NackAction> = {
  [persistentPb.ReadReq.Nack.Action.PARK]: 'park',
  [persistentPb.ReadReq.Nack.Action.RETRY]: 'retry',
  [persistentPb.ReadReq.Nack.Action.SKIP]: 'skip',
  [persistentPb.ReadReq.Nack.Action.STOP]: 'stop',
}

/**
 * One consumer's Read call: options first (answered by the confirmation, whose id is
 * `<stream>::<group>`), then messages out and acks and nacks in, until either side ends the call.
 */
export function serveRead(
  subsystem: PersistentSubsystem,
  call: ServerDuplexStream<ReadReq, ReadResp>,
  calls?: OpenCalls,
  access?: AccessControl,
): void {
  const consumerId = randomUUID()
  let joined: GroupRuntime | undefined
  let asked = false
  let ended = false
  const fail = (error: PersistentError) => {
    if (ended) return
    leave()
    call.emit('error', error)
  }
  const untrack = calls?.add({ kind: 'subscription', end: (reason) => fail(endedByServer(reason)) })
  function leave(): void {
    ended = true
    untrack?.()
    joined?.disconnect(consumerId)
  }

  const join = (options: ReadReq.Options) => {
    if (ended) return
    const stream = sourceOf(options)
    const group = options.getGroupName()
    if (access !== undefined && !access.canAccess(call, stream, 'read')) return fail(accessDenied())
    const runtime = subsystem.get(stream, group)
    if (runtime === undefined) return fail(subscriptionMissing(stream, group))
    const connection: ConsumerConnection = {
      id: consumerId,
      from: call.getPeer(),
      username: access?.principalOf(call).name ?? 'system',
      name: String(call.metadata.get('connection-name')[0] ?? ''),
      joined: () => call.write(toConfirmation(groupKey(stream, group))),
      send: (response) => {
        if (!ended && !call.cancelled) call.write(response)
      },
      end: (error) => {
        if (error !== undefined) return fail(error)
        leave()
        call.end()
      },
    }
    const outcome = runtime.connect(connection, options.getBufferSize())
    if (outcome === 'full') return fail(maximumSubscribersReached(stream, group))
    if (outcome === 'stopped') return fail(subscriptionDropped(stream, group, 'the group is restarting'))
    joined = runtime
  }

  call.on('data', (request: ReadReq) => {
    const options = request.getOptions()
    if (options !== undefined) {
      if (asked) return
      asked = true
      subsystem.ready
        .then(
          () => join(options),
          () => fail(notReady('The persistent subscriptions subsystem is not ready.')),
        )
        .catch((error: unknown) => fail(error as PersistentError))
      return
    }
    const ack = request.getAck()
    if (ack !== undefined) joined?.ack(ack.getIdsList().map(uuidString))
    const nack = request.getNack()
    if (nack !== undefined) {
      const action = nackActions[nack.getAction()] ?? 'retry'
      joined?.nack(consumerId, nack.getIdsList().map(uuidString), action, nack.getReason())
    }
  })
  call.on('cancelled', leave)
  call.on('error', leave)
  call.on('end', () => {
    if (ended) return
    leave()
    call.end()
  })
}

function uuidString(uuid: UUID): string {
  const structured = uuid.getStructured()
  if (structured === undefined) return uuid.getString()
  const bytes = Buffer.alloc(16)
  bytes.writeBigInt64BE(BigInt(structured.getMostSignificantBits()), 0)
  bytes.writeBigInt64BE(BigInt(structured.getLeastSignificantBits()), 8)
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
