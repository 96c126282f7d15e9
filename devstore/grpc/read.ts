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
  let events: Iterable<StoredEvent>
  if (options.hasStream()) {
    const streamOptions = options.getStream()!
    const stream = streamNameOf(streamOptions.getStreamIdentifier())
    const fromRevision = streamOptions.hasRevision()
      ? BigInt(streamOptions.getRevision())
      : streamOptions.hasEnd()
        ? 'end'
        : 'start'
    const result = await context.engine.readStream(stream, { direction, fromRevision, maxCount })
    if (result.kind === 'deleted') throw new RequestRefused(streamDeletedError(stream))
    if (result.kind === 'not-found') {
      const notFound = new ReadResp.StreamNotFound()
      notFound.setStreamIdentifier(streamOptions.getStreamIdentifier())
      const reply = new ReadResp()
      reply.setStreamNotFound(notFound)
      sink.write(reply)
      return sink.end()
    }
    events = result.events
  } else {
    const all = options.getAll()!
    const from = all.hasPosition() ? positionOf(all.getPosition()!) : all.hasEnd() ? 'end' : 'start'
    events = await context.engine.readAll({
      direction,
      from,
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
  if (options.hasStream()) {
    const streamOptions = options.getStream()!
    const stream = streamNameOf(streamOptions.getStreamIdentifier())
    const after = streamOptions.hasRevision()
      ? BigInt(streamOptions.getRevision())
      : streamOptions.hasEnd()
        ? context.engine.streamRevision(stream)
        : undefined
    return { kind: 'stream', stream, after }
  }
  const all = options.getAll()!
  if (all.hasPosition()) return { kind: 'all', after: positionOf(all.getPosition()!) }
  return { kind: 'all', after: all.hasEnd() ? context.engine.headPosition() : undefined }
}

function positionOf(position: InstanceType<typeof ReadReq.Options.Position>): bigint {
  const commit = BigInt(position.getCommitPosition())
  const prepare = BigInt(position.getPreparePosition())
  if (commit !== prepare || commit < 0n) {
    throw new RequestRefused(invalidArgument(`Invalid position: commit ${commit}, prepare ${prepare}`))
  }
  return commit
}
