import { GraphQLID, GraphQLNonNull, GraphQLString } from 'graphql'
import type { AnyAggregate } from '../../aggregate/define-aggregate.ts'
import type { EventStore, RecordedEvent } from '../../event-store/event-store.ts'
import type { EventFrame } from '../schema/aggregate-event-type.ts'
import { aggregateEventType } from '../schema/aggregate-event-type.ts'
import type { FeedItem } from '../feeds/bounded-feed.ts'
import type { GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { camelCase } from '../schema/graphql-names.ts'
import { createSharedStreamFeed, type SharedStreamFeed } from '../feeds/shared-stream-feed.ts'
import { frameResolve, resolvesTypeByFrame } from '../feeds/shared-subscription-execution.ts'
import type { TypeRegistry } from '../schema/type-registry.ts'
import { subscriptionFeed } from './subscription-feed.ts'

/**
 * The event feed of one aggregate instance: `batteryEvents(id: ID!, after: String): BatteryEvent!`. It
 * sends the stream's events so far (or those after `after`), then each new one as it is appended. The live
 * part comes from one store subscription per aggregate type, shared by all the feed's clients.
 */
export function aggregateEventSubscription(
  registry: TypeRegistry,
  aggregate: AnyAggregate,
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const name = `${camelCase(aggregate.name)}Events`
  registry.claimField('Subscription', name, `aggregate ${aggregate.name} (its event feed)`)
  // One store subscription per aggregate type and store, shared by every client of this feed.
  const feeds = new WeakMap<EventStore, SharedStreamFeed<EventFrame>>()
  const sharedFeedOf = (store: EventStore) => {
    let feed = feeds.get(store)
    if (!feed) {
      const eventTypes = Object.keys(aggregate.events as object)
      feed = createSharedStreamFeed({ store, eventTypes, toFrame: (event) => toFrame(aggregate, event) })
      feeds.set(store, feed)
    }
    return feed
  }
  return {
    [name]: {
      // The union's resolveType reads the frame's type alone, so clients with one query share its execution.
      type: new GraphQLNonNull(resolvesTypeByFrame(aggregateEventType(registry, aggregate))),
      description: `The events of one ${aggregate.name}: its history, then each new event.`,
      args: {
        id: { type: new GraphQLNonNull(GraphQLID) },
        after: { type: GraphQLString, description: 'The last position this client saw: resume after it.' },
      },
      resolve: frameResolve,
      subscribe: async (_root, args: Record<string, unknown>, context) => {
        const gateway = runtime()
        return subscriptionFeed(gateway, context, {
          name: aggregate.name,
          feed: name,
          args,
          open: (after, signal) => {
            const feed = {
              store: gateway.store,
              shared: sharedFeedOf(gateway.store),
              aggregate,
              id: String(args['id']),
              after,
              maxPending: gateway.subscriptionBuffer,
            }
            return eventFeed(feed, signal)
          },
        })
      },
    },
  }
}

interface EventFeedRequest {
  readonly store: EventStore
  readonly shared: SharedStreamFeed<EventFrame>
  readonly aggregate: AnyAggregate
  readonly id: string
  readonly after: bigint | undefined
  readonly maxPending: number
}

async function* eventFeed(
  request: EventFeedRequest,
  signal: AbortSignal,
): AsyncGenerator<FeedItem<EventFrame>> {
  const { store, aggregate } = request
  const streamName = aggregate.streamName(request.id)
  // Joined before the read: whatever the read does not return, the shared subscription delivers.
  const member = await request.shared.join(streamName, { signal, maxPending: request.maxPending })
  try {
    let last = request.after ?? -1n
    let next: bigint | undefined
    do {
      const from = next === undefined ? {} : { fromRevision: next }
      for await (const event of store.readStream(streamName, from)) {
        if (signal.aborted) return
        next = event.revision + 1n
        if (event.position <= last) continue
        last = event.position
        yield { live: false, value: toFrame(aggregate, event) }
      }
    } while (!member.goLive())
    for await (const { frame, traceparent } of member.frames(last))
      yield { live: true, value: frame, traceparent }
  } finally {
    member.leave()
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
