/**
 * The Projections gRPC service (event_store.client.projections.Projections) over the system projections:
 * statistics, state and result (a system projection has no state: an empty object), enable, disable
 * (abort alike), reset and restarting the subsystem. User-defined JavaScript projections are not run:
 * Create answers UNIMPLEMENTED naming what is supported, and Update or Delete of a system projection
 * FAILED_PRECONDITION. An unknown name is NOT_FOUND `Projection '<name>' not found`, as EventStoreDB says it.
 */
import { status, type sendUnaryData, type ServerWritableStream } from '@grpc/grpc-js'
import projectionsGrpc from '@eventstore/db-client/generated/projections_grpc_pb.js'
import projectionsPb from '@eventstore/db-client/generated/projections_pb.js'
import sharedPb from '@eventstore/db-client/generated/shared_pb.js'
import structPb from 'google-protobuf/google/protobuf/struct_pb.js'
import type { AccessControl } from '../access/access-control.ts'
import { RequestRefused } from '../grpc/request-refused.ts'
import type { DevStoreServiceFactory } from '../grpc/service-context.ts'
import { serviceError } from '../grpc/status-errors.ts'
import { ProjectionRunner } from './projection-runner.ts'
import { SYSTEM_PROJECTION_NAMES, type SystemProjectionName } from './system-projections.ts'

export const UNSUPPORTED_PROJECTIONS =
  'The devstore runs only the system projections ($by_category, $by_event_type, $by_correlation_id, ' +
  '$stream_by_category, $streams); user-defined JavaScript projections need EventStoreDB.'

/** The service, with the system projections running (`enabled`) or stopped until enabled. */
export function projectionsService(enabled: boolean): DevStoreServiceFactory {
  return ({ engine, access }) => {
    const runners = new Map(SYSTEM_PROJECTION_NAMES.map((name) => [name, new ProjectionRunner(name, engine)]))
    for (const runner of runners.values()) runner.start(enabled)
    const unsubscribe = engine.subscribe((events) => {
      for (const runner of runners.values()) runner.wake(events)
    })
    return {
      definition: projectionsGrpc.ProjectionsService,
      implementation: createProjectionsImplementation(runners, access),
      close: async () => {
        unsubscribe()
        await Promise.all([...runners.values()].map((runner) => runner.stop()))
      },
    }
  }
}

type Runners = ReadonlyMap<SystemProjectionName, ProjectionRunner>

/** A call whose request names a projection in its options (every method but Create and RestartSubsystem). */
interface NamedCall {
  readonly request: { getOptions(): { getName(): string } | undefined }
}

function createProjectionsImplementation(runners: Runners, access: AccessControl) {
  const find = (call: NamedCall): ProjectionRunner => {
    access.assertAuthenticated(call)
    const name = call.request.getOptions()?.getName() ?? ''
    const runner = runners.get(name as SystemProjectionName)
    if (runner === undefined)
      throw new RequestRefused(serviceError(status.NOT_FOUND, `Projection '${name}' not found`))
    return runner
  }
  const systemOnly = (call: NamedCall, what: string) => {
    find(call)
    throw new RequestRefused(
      serviceError(
        status.FAILED_PRECONDITION,
        `${what} a system projection is not supported. ${UNSUPPORTED_PROJECTIONS}`,
      ),
    )
  }
  // Enable, disable and reset: the runner does the work, the reply is an empty message of the method's type.
  const control =
    (run: (runner: ProjectionRunner) => Promise<void>, Reply: new () => object) =>
    (call: NamedCall, callback: sendUnaryData<unknown>) =>
      answer(callback, async () => {
        await run(find(call))
        return new Reply()
      })
  // State and result: a system projection has no state, so either is an empty object once the name is found.
  const stateless = (reply: () => object) => (call: NamedCall, callback: sendUnaryData<unknown>) =>
    answer(callback, () => {
      find(call)
      return reply()
    })
  return {
    create: (call: object, callback: sendUnaryData<unknown>) =>
      answer(callback, () => {
        access.assertAuthenticated(call)
        throw new RequestRefused(serviceError(status.UNIMPLEMENTED, UNSUPPORTED_PROJECTIONS))
      }),
    update: (call: NamedCall, callback: sendUnaryData<unknown>) =>
      answer(callback, () => systemOnly(call, 'Updating')),
    delete: (call: NamedCall, callback: sendUnaryData<unknown>) =>
      answer(callback, () => {
        access.assertOperator(call)
        systemOnly(call, 'Deleting')
      }),
    enable: control((runner) => runner.enable(), projectionsPb.EnableResp),
    disable: control((runner) => runner.disable(), projectionsPb.DisableResp),
    reset: control((runner) => runner.reset(), projectionsPb.ResetResp),
    state: stateless(() => new projectionsPb.StateResp().setState(emptyState())),
    result: stateless(() => new projectionsPb.ResultResp().setResult(emptyState())),
    statistics: (call: ServerWritableStream<InstanceType<typeof projectionsPb.StatisticsReq>, unknown>) => {
      try {
        const options = call.request.getOptions()
        const selected = options?.hasName() === true ? [find(call)] : listed(call, runners, access, options)
        for (const runner of selected) call.write(statisticsOf(runner))
        call.end()
      } catch (error) {
        call.emit('error', error instanceof RequestRefused ? error.error : error)
      }
    },
    restartSubsystem: (call: object, callback: sendUnaryData<unknown>) =>
      answer(callback, async () => {
        access.assertOperator(call)
        for (const runner of runners.values()) {
          await runner.stop()
          runner.start(runner.enabled)
        }
        return new sharedPb.Empty()
      }),
  }
}

// Every system projection is Continuous: listing transient or one-time ones finds none.
function listed(
  call: object,
  runners: Runners,
  access: AccessControl,
  options: InstanceType<typeof projectionsPb.StatisticsReq.Options> | undefined,
): ProjectionRunner[] {
  access.assertAuthenticated(call)
  return options?.hasTransient() === true || options?.hasOneTime() === true ? [] : [...runners.values()]
}

function statisticsOf(runner: ProjectionRunner): InstanceType<typeof projectionsPb.StatisticsResp> {
  const details = new projectionsPb.StatisticsResp.Details()
  const tag = (position: bigint | undefined) => (position === undefined ? '' : `C:${position}/P:${position}`)
  details.setName(runner.name)
  details.setEffectivename(runner.name)
  details.setMode('Continuous')
  details.setStatus(runner.enabled ? 'Running' : 'Stopped')
  details.setStatereason('')
  details.setPosition(tag(runner.lastPosition))
  details.setLastcheckpoint(tag(runner.checkpointPosition))
  details.setProgress(runner.caughtUp ? 100 : 0)
  details.setCheckpointstatus('')
  details.setBufferedevents('0')
  details.setEventsprocessedafterrestart(String(runner.eventsProcessed))
  details.setCoreprocessingtime('0')
  details.setPartitionscached(1)
  details.setReadsinprogress(0)
  details.setWritesinprogress(0)
  details.setWritependingeventsbeforecheckpoint(0)
  details.setWritependingeventsaftercheckpoint(0)
  details.setEpoch('-1')
  details.setVersion('1')
  const reply = new projectionsPb.StatisticsResp()
  reply.setDetails(details)
  return reply
}

function emptyState(): InstanceType<typeof structPb.Value> {
  const value = new structPb.Value()
  value.setStructValue(new structPb.Struct())
  return value
}

function answer<T>(callback: sendUnaryData<unknown>, work: () => T | Promise<T>): void {
  Promise.resolve()
    .then(work)
    .then(
      (reply) => callback(null, reply),
      (error: unknown) => {
        if (error instanceof RequestRefused) return callback(error.error)
        const details = error instanceof Error ? error.message : String(error)
        callback(serviceError(status.INTERNAL, details))
      },
    )
}
