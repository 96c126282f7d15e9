import { GraphQLID, GraphQLNonNull, GraphQLString, type GraphQLFieldConfig } from 'graphql'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventStore, RecordedEvent } from '../event-store/event-store.ts'
import type { EventFrame } from './aggregate-event-type.ts'
import { aggregateEventType } from './aggregate-event-type.ts'
import { authorizeOperation } from './authorize-operation.ts'
import { boundedFeed, type FeedItem } from './bounded-feed.ts'
import type { GatewayContext, GatewayRuntime } from './gateway-context.ts'
import { camelCase } from './graphql-names.ts'
import { parsePosition } from './read-model-queries.ts'
import type { TypeRegistry } from './type-registry.ts'

type Field = GraphQLFieldConfig<unknown, GatewayContext>

/**
 * The event feed of one aggregate instance: `batteryEvents(id: ID!, after: String): BatteryEvent!`. It
 * sends the stream's events so far (or those after `after`), then each new one as it is appended.
 */
export function aggregateEventSubscription(
  registry: TypeRegistry,
  aggregate: AnyAggregate,
  runtime: () => GatewayRuntime,
): Record<string, Field> {
  const name = `${camelCase(aggregate.name)}Events`
  registry.claimField('Subscription', name, `aggregate ${aggregate.name} (its event feed)`)
  return {
    [name]: {
      type: new GraphQLNonNull(aggregateEventType(registry, aggregate)),
      description: `The events of one ${aggregate.name}: its history, then each new event.`,
      args: {
        id: { type: new GraphQLNonNull(GraphQLID) },
        after: { type: GraphQLString, description: 'The last position this client saw: resume after it.' },
      },
      resolve: (frame: unknown) => frame,
      subscribe: async (_root, args: Record<string, unknown>, context) => {
        const gateway = runtime()
        await authorizeOperation(gateway.authorization, context.principal, {
          kind: 'subscription',
          name: aggregate.name,
          args,
        })
        const after = typeof args['after'] === 'string' ? parsePosition(args['after'], 'after') : undefined
        const feed = { store: gateway.store, aggregate, id: String(args['id']), after }
        return boundedFeed((signal) => eventFeed(feed, signal), {
          maxBuffered: gateway.subscriptionBuffer,
          onOverflow: () => {
            gateway.onSubscriptionEnd?.('slow-consumer')
            context.closeConnection?.(
              1008,
              `Slow consumer: more than ${gateway.subscriptionBuffer} messages were waiting`,
            )
          },
        })
      },
    },
  }
}

interface EventFeedRequest {
  readonly store: EventStore
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly after: bigint | undefined
}

async function* eventFeed(
  request: EventFeedRequest,
  signal: AbortSignal,
): AsyncGenerator<FeedItem<EventFrame>> {
  const { store, aggregate } = request
  const streamName = aggregate.streamName(request.id)
  // The head before the read: whatever is appended after the read began is either read or subscribed to.
  const head = await store.headPosition()
  let last = request.after ?? -1n
  for await (const event of store.readStream(streamName)) {
    if (signal.aborted) return
    if (event.position <= last) continue
    last = event.position
    yield { live: false, value: toFrame(aggregate, event) }
  }
  const from = head > last ? head : last
  const live = store.subscribeToAll({
    fromPosition: from <= 0n ? 'start' : from,
    eventTypes: Object.keys(aggregate.events as object),
    signal,
  })
  for await (const message of live) {
    if (message.kind !== 'event' || message.event.streamName !== streamName) continue
    if (message.event.position <= last) continue
    last = message.event.position
    yield { live: true, value: toFrame(aggregate, message.event) }
  }
}

function toFrame(aggregate: AnyAggregate, event: RecordedEvent): EventFrame {
  const parsed = aggregate.parseStoredEvent(event)
  return {
    type: event.type,
    revision: String(event.revision),
    position: String(event.position),
    data: parsed.data,
  }
}
