/**
 * Streams.Read: reads of a stream or of `$all`, either direction, bounded by `count`; with `subscription`
 * in place of `count` it is a catch-up subscription (see catch-up-subscription.ts).
 */
import type { ServerWritableStream } from '@grpc/grpc-js'
import type { Direction, StoredEvent } from '../engine/engine.ts'
import { allFilterOf, type AllFilter } from './all-filter.ts'
import { CatchUpSubscription, type SubscriptionTarget } from './catch-up-subscription.ts'
import { encodeEvent, type EncodeOptions } from './encode-event.ts'
import { ReadReq, ReadResp } from './protocol.ts'
import { ReplySink } from './reply-sink.ts'
import { RequestRefused } from './request-refused.ts'
import { streamNameOf } from './request-fields.ts'
import type { ServiceContext } from './service-context.ts'
import { cancelledByShutdown, engineFailure, invalidArgument, streamDeletedError } from './status-errors.ts'

type Options = InstanceType<typeof ReadReq.Options>

export function createReadHandler(context: ServiceContext) {
  return (call: ServerWritableStream<ReadReq, ReadResp>): void => {
    const sink = new ReplySink(call)
    const options = call.request.getOptions()
    try {
      if (options === undefined) throw new RequestRefused(invalidArgument('A read needs options'))
      const encoding: EncodeOptions = {
        structuredUuids: options.getUuidOption()?.hasStructured() ?? false,
        withCommitPosition: options.hasAll(),
        resolveLinks: options.getResolveLinks(),
      }
      const stream = options.hasStream() ? streamNameOf(options.getStream()!.getStreamIdentifier()) : '$all'
      context.access.assertStream(call, stream, 'read')
      const filter = options.hasFilter() ? allFilterOf(options.getFilter()!) : undefined
      if (options.hasSubscription()) {
        const subscription = new CatchUpSubscription(context.engine, sink, targetOf(context, options), {
          encoding,
          ...(filter === undefined ? {} : { filter }),
        })
        const untrack = context.calls.add({
          kind: 'subscription',
          end: (reason) => subscription.drop(reason),
        })
        void subscription.run().finally(untrack)
        return
      }
      const untrack = context.calls.add({
        kind: 'read',
        end: () => sink.fail(cancelledByShutdown()),
      })
      void read(context, sink, options, encoding, filter)
        .catch((error: unknown) => sink.fail(engineFailure(error)))
        .finally(untrack)
    } catch (error) {
      sink.fail(engineFailure(error))
    }
  }
}

async function read(
  context: ServiceContext,
  sink: ReplySink,
  options: Options,
  encoding: EncodeOptions,
  filter: AllFilter | undefined,
): Promise<void> {
  const direction: Direction =
    options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS ? 'backwards' : 'forwards'
  const maxCount = BigInt(options.getCount())
  const start = startOf(options)
  let events: Iterable<StoredEvent>
  if (start.stream !== undefined) {
    const { stream, from: fromRevision } = start
    const result = await context.engine.readStream(stream, { direction, fromRevision, maxCount })
    if (result.kind === 'deleted') throw new RequestRefused(streamDeletedError(stream))
    if (result.kind === 'not-found') {
      const notFound = new ReadResp.StreamNotFound()
      notFound.setStreamIdentifier(options.getStream()!.getStreamIdentifier())
      const reply = new ReadResp()
      reply.setStreamNotFound(notFound)
      sink.write(reply)
      return sink.end()
    }
    events = result.events
  } else {
    events = await context.engine.readAll({
      direction,
      from: start.from,
      maxCount,
      ...(filter === undefined ? {} : { filter: filter.matches }),
    })
  }
  for (const event of events) {
    if (!sink.write(encodeEvent(context.engine, event, encoding)) && !(await sink.drain())) return
  }
  sink.end()
}

function targetOf(context: ServiceContext, options: Options): SubscriptionTarget {
  const { stream, from } = startOf(options)
  if (stream !== undefined) {
    const after = from === 'end' ? context.engine.streamRevision(stream) : from === 'start' ? undefined : from
    return { kind: 'stream', stream, after }
  }
  return {
    kind: 'all',
    after: from === 'end' ? context.engine.headPosition() : from === 'start' ? undefined : from,
  }
}

/** Where a read or subscription starts: a revision of a stream (`$all` when undefined) or a position in `$all`, or either's start or end. */
interface ReadStart {
  readonly stream: string | undefined
  readonly from: bigint | 'start' | 'end'
}

function startOf(options: Options): ReadStart {
  if (options.hasStream()) {
    const streamOptions = options.getStream()!
    const stream = streamNameOf(streamOptions.getStreamIdentifier())
    if (streamOptions.hasRevision()) return { stream, from: BigInt(streamOptions.getRevision()) }
    return { stream, from: streamOptions.hasEnd() ? 'end' : 'start' }
  }
  const all = options.getAll()!
  if (all.hasPosition()) return { stream: undefined, from: positionOf(all.getPosition()!) }
  return { stream: undefined, from: all.hasEnd() ? 'end' : 'start' }
}

function positionOf(position: InstanceType<typeof ReadReq.Options.Position>): bigint {
  const commit = BigInt(position.getCommitPosition())
  const prepare = BigInt(position.getPreparePosition())
  if (commit !== prepare || commit < 0n) {
    throw new RequestRefused(invalidArgument(`Invalid position: commit ${commit}, prepare ${prepare}`))
  }
  return commit
}
