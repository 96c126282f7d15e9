import { authorizeOperation } from '../guards/authorize-operation.ts'
import { boundedFeed, type FeedItem } from '../feeds/bounded-feed.ts'
import { startFrameSpan } from '../feeds/trace-frame.ts'
import { tracingEnabled } from '../../tracing/tracer.ts'
import type { GatewayContext, GatewayRuntime } from '../transport/gateway-context.ts'
import { parsePosition } from './read-model-queries.ts'

export interface SubscriptionFeedRequest<T> {
  /** The aggregate or read model subscribed to, as the authorization rules name it. */
  readonly name: string
  /** The subscription field (`batteryEvents`, `fleetListChanged`): the span of each live frame names it. */
  readonly feed: string
  readonly args: Record<string, unknown>
  /** The feed after the position in the `after` argument, or (undefined) from its beginning. */
  readonly open: (after: bigint | undefined, signal: AbortSignal) => AsyncIterable<FeedItem<T>>
}

/**
 * A subscription's feed, once its rule allows it: history then live items through a bounded buffer, so a
 * client that falls more than `subscriptionBuffer` messages behind is disconnected as a slow consumer.
 */
export async function subscriptionFeed<T extends { readonly position: string }>(
  gateway: GatewayRuntime,
  context: GatewayContext,
  request: SubscriptionFeedRequest<T>,
): Promise<AsyncGenerator<T, undefined>> {
  const { name, feed, args } = request
  await authorizeOperation(gateway.authorization, context.principal, { kind: 'subscription', name, args })
  const after = typeof args['after'] === 'string' ? parsePosition(args['after'], 'after') : undefined
  return boundedFeed((signal) => request.open(after, signal), {
    maxBuffered: gateway.subscriptionBuffer,
    onOverflow: () => {
      gateway.onSubscriptionEnd?.('slow-consumer')
      context.closeConnection?.(
        1008,
        `Slow consumer: more than ${gateway.subscriptionBuffer} messages were waiting`,
      )
    },
    // Decided once per subscription: with no SDK, taking a frame costs one property read.
    onTake: tracingEnabled() ? (item) => startFrameSpan(feed, item) : undefined,
  })
}
