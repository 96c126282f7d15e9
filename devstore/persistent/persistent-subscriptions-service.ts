import { status, type sendUnaryData } from '@grpc/grpc-js'
import persistentGrpc from '@eventstore/db-client/generated/persistent_grpc_pb.js'
import persistentPb from '@eventstore/db-client/generated/persistent_pb.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import type { IPersistentSubscriptionsServer } from '@eventstore/db-client/generated/persistent_grpc_pb.js'
import { parseGroupRequest, sourceOf } from './parse-group-request.ts'
import { subscriptionMissing } from './persistent-errors.ts'
import type { AccessControl } from '../access/access-control.ts'
import type { OpenCalls } from '../grpc/open-calls.ts'
import { RequestRefused } from '../grpc/request-refused.ts'
import type { DevStoreServiceFactory } from '../grpc/service-context.ts'
import { PersistentSubsystem } from './persistent-subsystem.ts'
import { serveRead } from './serve-read.ts'
import { toSubscriptionInfo } from './subscription-info.ts'

const methodNames = [
  'Create',
  'Update',
  'Delete',
  'Read',
  'GetInfo',
  'ReplayParked',
  'List',
  'RestartSubsystem',
]

/**
 * The devstore's PersistentSubscriptions service, for startDevStoreServer's `services`: its subsystem
 * loads the groups from the engine's log, every method is advertised with the `stream` and `all`
 * features (without them client 6.x falls back to HTTP, or refuses `$all` groups), and closing writes
 * the groups' last checkpoints while the engine is still open.
 *
 * @example
 * await startDevStoreServer({ engine, host: '127.0.0.1', port: 0, faults, services: [persistentSubscriptionsService] })
 */
export const persistentSubscriptionsService: DevStoreServiceFactory = ({ engine, calls, access }) => {
  const subsystem = PersistentSubsystem.start(engine)
  return {
    definition: persistentGrpc.PersistentSubscriptionsService,
    implementation: createPersistentSubscriptionsService(subsystem, calls, access),
    features: Object.fromEntries(methodNames.map((name) => [name, ['stream', 'all']])),
    close: () => subsystem.close(),
  }
}

/** The service's handlers: unary Create, Update, Delete, GetInfo, List, ReplayParked, RestartSubsystem; bidi Read. */
export function createPersistentSubscriptionsService(
  subsystem: PersistentSubsystem,
  calls?: OpenCalls,
  access?: AccessControl,
): IPersistentSubscriptionsServer {
  // Managing groups takes `$ops` or `$admins`; statistics, an authenticated user (EventStoreDB's policy).
  const operator = (call: object) => access?.assertOperator(call)
  const authenticated = (call: object) => access?.assertAuthenticated(call)
  return {
    create: (call, callback) =>
      answer(callback, async () => {
        operator(call)
        await subsystem.create(parseGroupRequest(call.request))
        return new persistentPb.CreateResp()
      }),
    update: (call, callback) =>
      answer(callback, async () => {
        operator(call)
        await subsystem.update(parseGroupRequest(call.request))
        return new persistentPb.UpdateResp()
      }),
    delete: (call, callback) =>
      answer(callback, async () => {
        operator(call)
        const options = call.request.getOptions()
        await subsystem.delete(sourceOf(options), options?.getGroupName() ?? '')
        return new persistentPb.DeleteResp()
      }),
    getInfo: (call, callback) =>
      answer(callback, async () => {
        authenticated(call)
        const options = call.request.getOptions()
        const stream = sourceOf(options)
        const group = options?.getGroupName() ?? ''
        await subsystem.ready
        const runtime = subsystem.get(stream, group)
        if (runtime === undefined) throw subscriptionMissing(stream, group)
        const response = new persistentPb.GetInfoResp()
        response.setSubscriptionInfo(await toSubscriptionInfo(runtime))
        return response
      }),
    list: (call, callback) =>
      answer(callback, async () => {
        authenticated(call)
        const options = call.request.getOptions()
        const forStream = options?.getListForStream()
        const stream =
          forStream === undefined
            ? undefined
            : sourceOf({ hasAll: () => forStream.hasAll(), getStreamIdentifier: () => forStream.getStream() })
        await subsystem.ready
        const runtimes = subsystem.list(stream)
        if (stream !== undefined && runtimes.length === 0) throw subscriptionMissing(stream, '')
        const response = new persistentPb.ListResp()
        response.setSubscriptionsList(await Promise.all(runtimes.map(toSubscriptionInfo)))
        return response
      }),
    replayParked: (call, callback) =>
      answer(callback, async () => {
        operator(call)
        const options = call.request.getOptions()
        const stopAt = options?.hasStopAt() === true ? BigInt(options.getStopAt()) : undefined
        await subsystem.replayParked(sourceOf(options), options?.getGroupName() ?? '', stopAt)
        return new persistentPb.ReplayParkedResp()
      }),
    restartSubsystem: (call, callback) =>
      answer(callback, async () => {
        operator(call)
        await subsystem.restart()
        return new sharedPb.Empty()
      }),
    read: (call) => serveRead(subsystem, call, calls, access),
  }
}

/** Runs a unary handler: errors with a gRPC code go out as they are; anything else is INTERNAL. */
function answer<T>(callback: sendUnaryData<T>, work: () => Promise<T>): void {
  work().then(
    (reply) => callback(null, reply),
    (error: unknown) => {
      if (error instanceof RequestRefused) return callback(error.error)
      if (typeof error === 'object' && error !== null && 'code' in error && 'metadata' in error) {
        callback(error as Parameters<sendUnaryData<T>>[0])
      } else {
        const details = error instanceof Error ? error.message : 'internal error'
        callback({ code: status.INTERNAL, details, name: 'Internal', message: details })
      }
    },
  )
}
