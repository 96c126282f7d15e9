import {
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
  GraphQLUnionType,
  parse,
  type ExecutionResult,
} from 'graphql'
import { describe, expect, it } from 'vitest'
import {
  createSharedSubscribe,
  frameResolve,
  isSharedSelection,
  resolvesTypeByFrame,
} from './shared-subscription-execution.ts'

interface Frame {
  readonly name: string
}

/** A subscription `changed` whose source yields the frames pushed to it, and a field reading the context. */
function buildSchema(subscribers: ((frame: Frame) => void)[], aborted: { count: number }) {
  const frameType = new GraphQLObjectType({
    name: 'Frame',
    fields: {
      name: { type: new GraphQLNonNull(GraphQLString) },
      viewer: {
        type: GraphQLString,
        resolve: (_frame, _args, context: { viewer: string }) => context.viewer,
      },
    },
  })
  const source = (): AsyncIterableIterator<Frame> => {
    const queue: Frame[] = []
    let wake: (() => void) | undefined
    subscribers.push((frame) => {
      queue.push(frame)
      wake?.()
    })
    const iterator: AsyncIterableIterator<Frame> = {
      async next() {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve))
        return { done: false, value: queue.shift() as Frame }
      },
      return() {
        aborted.count++
        return Promise.resolve({ done: true, value: undefined })
      },
      [Symbol.asyncIterator]: () => iterator,
    }
    return iterator
  }
  return new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        changed: { type: new GraphQLNonNull(frameType), resolve: frameResolve, subscribe: source },
        custom: { type: new GraphQLNonNull(frameType), resolve: (frame) => frame, subscribe: source },
      },
    }),
  })
}

async function twoClients(query: string, viewers: [string, string]) {
  const subscribers: ((frame: Frame) => void)[] = []
  const aborted = { count: 0 }
  const schema = buildSchema(subscribers, aborted)
  const document = parse(query)
  const shared = isSharedSelection(schema, document)
  const subscribe = createSharedSubscribe(() => shared)
  const streams = await Promise.all(
    viewers.map(
      async (viewer) =>
        (await subscribe({
          schema,
          document,
          contextValue: { viewer },
        })) as AsyncIterableIterator<ExecutionResult>,
    ),
  )
  const frame = { name: 'hot' }
  for (const push of subscribers) push(frame)
  const results = await Promise.all(
    streams.map(async (stream) => (await stream.next()).value as ExecutionResult),
  )
  for (const stream of streams) await stream.return?.()
  return { shared, results, aborted: aborted.count }
}

describe('shared subscription execution', () => {
  it('executes a frame once for clients whose selection depends on the frame alone', async () => {
    const { shared, results } = await twoClients('subscription { changed { name } }', ['ann', 'bob'])
    expect(shared).toBe(true)
    expect(results[0]).toEqual({ data: { changed: { name: 'hot' } } })
    expect(results[1]).toBe(results[0])
  })

  it('executes per client when a field resolves from the context', async () => {
    const { shared, results } = await twoClients('subscription { changed { name viewer } }', ['ann', 'bob'])
    expect(shared).toBe(false)
    expect(results.map((result) => result.data)).toEqual([
      { changed: { name: 'hot', viewer: 'ann' } },
      { changed: { name: 'hot', viewer: 'bob' } },
    ])
  })

  it('executes per client when the root field has a resolver of its own', async () => {
    const { shared, results } = await twoClients('subscription { custom { name } }', ['ann', 'bob'])
    expect(shared).toBe(false)
    expect(results[1]).not.toBe(results[0])
    expect(results[1]).toEqual(results[0])
  })

  it('ends the source of each client that unsubscribes', async () => {
    const { aborted } = await twoClients('subscription { changed { name } }', ['ann', 'bob'])
    expect(aborted).toBe(2)
  })

  it('keeps results apart for different variables', async () => {
    const subscribers: ((frame: Frame) => void)[] = []
    const schema = buildSchema(subscribers, { count: 0 })
    const document = parse('subscription ($skip: Boolean!) { changed { name @skip(if: $skip) } }')
    const subscribe = createSharedSubscribe(() => isSharedSelection(schema, document))
    const streams = await Promise.all(
      [true, false].map(
        async (skip) =>
          (await subscribe({
            schema,
            document,
            variableValues: { skip },
          })) as AsyncIterableIterator<ExecutionResult>,
      ),
    )
    const frame = { name: 'hot' }
    for (const push of subscribers) push(frame)
    const results = await Promise.all(
      streams.map(async (stream) => (await stream.next()).value as ExecutionResult),
    )
    expect(results).toEqual([{ data: { changed: {} } }, { data: { changed: { name: 'hot' } } }])
    for (const stream of streams) await stream.return?.()
  })
})

describe('isSharedSelection through a union', () => {
  const unionSchema = (markTypedByFrame: boolean) => {
    const member = new GraphQLObjectType({ name: 'Filled', fields: { litres: { type: GraphQLString } } })
    const union = new GraphQLUnionType({ name: 'Event', types: [member], resolveType: () => 'Filled' })
    const type = markTypedByFrame ? resolvesTypeByFrame(union) : union
    return new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
      subscription: new GraphQLObjectType({
        name: 'Subscription',
        fields: { events: { type: new GraphQLNonNull(type), resolve: frameResolve } },
      }),
    })
  }
  const query = parse('subscription { events { __typename ... on Filled { litres } } }')

  it('shares a union whose resolveType is marked as reading the frame alone', () =>
    expect(isSharedSelection(unionSchema(true), query)).toBe(true))

  it('does not share a union with any other resolveType', () =>
    expect(isSharedSelection(unionSchema(false), query)).toBe(false))
})
