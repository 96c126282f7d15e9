import { GraphQLID, GraphQLInt, GraphQLNonNull, GraphQLString } from 'graphql'
import type { ReadModelSource, RowChange } from '../../read-model/read-model-source.ts'
import type { FeedItem } from '../feeds/bounded-feed.ts'
import type { GatewayContext, GatewayField, GatewayRuntime } from '../transport/gateway-context.ts'
import { camelCase } from '../schema/graphql-names.ts'
import { withoutNulls } from './read-model-queries.ts'
import type { ReadModelTypes } from '../schema/read-model-types.ts'
import { frameResolve } from '../feeds/shared-subscription-execution.ts'
import type { TypeRegistry } from '../schema/type-registry.ts'
import { subscriptionFeed } from './subscription-feed.ts'

/** A frame of a read-model subscription: the row now (CURRENT) or one change, stamped with its position. */
export interface ChangeFrame {
  readonly kind: 'current' | RowChange<unknown>['kind']
  readonly key: string
  readonly row: unknown
  readonly previous: unknown
  readonly position: string
}

const after = {
  type: GraphQLString,
  description: 'The last position this client saw: resume after it, with no gap and no initial state.',
}

/**
 * Two subscriptions per read model: one row by key (`fleetChanged(siteId: ID!)`) and a filtered list
 * (`fleetListChanged(where)`). Each sends the current state first (one CURRENT frame per row), then every
 * change; given `after`, only the changes after that position.
 */
export function readModelSubscriptions(
  registry: TypeRegistry,
  source: ReadModelSource,
  types: ReadModelTypes,
  runtime: () => GatewayRuntime,
): Record<string, GatewayField> {
  const owner = `read model ${source.name}`
  const one = `${camelCase(source.name)}Changed`
  const list = `${camelCase(source.name)}ListChanged`
  registry.claimField('Subscription', one, owner)
  registry.claimField('Subscription', list, owner)
  const resolve = frameResolve
  return {
    [one]: {
      type: new GraphQLNonNull(types.change),
      args: { [source.key]: { type: new GraphQLNonNull(GraphQLID) }, after },
      resolve,
      subscribe: async (_root, args: Record<string, unknown>, context) => {
        const key = String(args[source.key])
        const where = { [source.key]: { eq: key } }
        return subscribeToChanges(runtime(), source, context, { feed: one, args, where, key, first: 1 })
      },
    },
    [list]: {
      type: new GraphQLNonNull(types.change),
      args: {
        ...(types.where ? { where: { type: types.where } } : {}),
        first: {
          type: GraphQLInt,
          description: 'How many rows the initial state may hold; capped by the server.',
        },
        after,
      },
      resolve,
      subscribe: async (_root, args: Record<string, unknown>, context) => {
        const gateway = runtime()
        const first = Math.min(
          typeof args['first'] === 'number' ? args['first'] : gateway.maxPageSize,
          gateway.maxPageSize,
        )
        return subscribeToChanges(gateway, source, context, {
          feed: list,
          args,
          where: withoutNulls(args['where']),
          first,
        })
      },
    },
  }
}

interface ChangeRequest {
  readonly feed: string
  readonly args: Record<string, unknown>
  readonly where: NonNullable<Parameters<ReadModelSource['list']>[0]>['where']
  readonly key?: string
  readonly first: number
}

function subscribeToChanges(
  gateway: GatewayRuntime,
  source: ReadModelSource,
  context: GatewayContext,
  request: ChangeRequest,
): Promise<AsyncGenerator<ChangeFrame, undefined>> {
  return subscriptionFeed(gateway, context, {
    name: source.name,
    feed: request.feed,
    args: request.args,
    open: (after, signal) => changeFeed(source, request, after, signal),
  })
}

async function* changeFeed(
  source: ReadModelSource,
  request: ChangeRequest,
  resumeAfter: bigint | undefined,
  signal: AbortSignal,
): AsyncGenerator<FeedItem<ChangeFrame>> {
  let from = resumeAfter
  if (from === undefined) {
    // The state at a position, then the changes after it: a change between the two is sent twice, never lost.
    const page = await source.list({
      ...(request.where ? { where: request.where } : {}),
      first: request.first,
    })
    from = page.position
    const position = String(page.position)
    for (const row of page.rows) {
      const key = String(row[source.key])
      yield { live: false, value: { kind: 'current', key, row, previous: null, position } }
    }
    if (request.key !== undefined && page.rows.length === 0) {
      yield { live: false, value: { kind: 'current', key: request.key, row: null, previous: null, position } }
    }
  }
  const changes = source.changes({
    after: from,
    signal,
    ...(request.key === undefined ? {} : { key: request.key }),
    ...(request.where && request.key === undefined ? { where: request.where } : {}),
  })
  for await (const change of changes) {
    let frame = frames.get(change)
    if (!frame) {
      frame = {
        kind: change.kind,
        key: change.key,
        row: change.kind === 'deleted' ? null : change.row,
        previous: change.kind === 'created' ? null : change.previous,
        position: String(change.position),
      }
      frames.set(change, frame)
    }
    yield { live: true, value: frame, traceparent: change.traceparent }
  }
}

/** One frame per change, whichever subscriptions it goes to, so that their results can be shared. */
const frames = new WeakMap<RowChange<unknown>, ChangeFrame>()
