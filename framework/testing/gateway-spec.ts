import { AssertionError, deepStrictEqual } from 'node:assert'
import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { createServer, type ServerOptions } from '../server/create-server.ts'
import { appendSpecEvent, SPEC_START, type SpecEvent } from './spec-history.ts'

export interface GatewaySpecOptions extends Omit<ServerOptions, 'store' | 'env' | 'logger'> {
  /** When the history happens (each event's `createdAt` unless it says `at`); default 2026-01-01T00:00:00Z. */
  readonly start?: Date
}

/** What the gateway answered, as a client reads it. */
export interface GatewayReply {
  readonly status: number
  readonly data?: Record<string, unknown> | null
  readonly errors?: readonly { message: string; extensions?: { code?: string } & Record<string, unknown> }[]
}

/** An event the operation appended to an aggregate's stream. */
export interface AppendedEvent {
  readonly aggregate: string
  readonly aggregateId: string
  readonly type: string
  readonly data: unknown
}

/** What an operation did: assert on it; each assertion returns the outcome. */
export interface GatewaySpecOutcome {
  readonly reply: GatewayReply
  /** The events appended to aggregate streams while the operation ran, in the order of the log. */
  readonly appended: readonly AppendedEvent[]
  /** Asserts the reply's `data` and that it carries no error. */
  thenData(expected: Record<string, unknown>): GatewaySpecOutcome
  /** Asserts the code of the reply's first error. */
  thenError(code: string): GatewaySpecOutcome
  thenAppended(expected: readonly AppendedEvent[]): GatewaySpecOutcome
  thenNothingAppended(): GatewaySpecOutcome
}

export interface GatewaySpecGiven {
  /** Sends one GraphQL operation as a client does (POST /graphql, JSON), once the read models have the history. */
  when(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GatewaySpecOutcome>
}

export interface GatewaySpec {
  /** The history in the event store before the operation, appended in order as the command bus would. */
  given(events: readonly SpecEvent[]): GatewaySpecGiven
}

/**
 * Given/when/then specifications at the GraphQL boundary: given events, when a mutation or a query, then the
 * reply and the events appended. It runs createServer (the schema, validation, authorization, the command bus
 * and the read side you pass) on an in-memory store, and sends the operation through fastify's `inject`.
 *
 * @example
 * await gatewaySpec({ aggregates: [Battery] })
 *   .given([{ aggregateId: 'b1', type: 'BatteryInstalled', data: installed }])
 *   .when('mutation { startCharging(id: "b1", input: { powerKw: 3 }) { revision } }')
 *   .then((outcome) => outcome.thenAppended([{ aggregate: 'Battery', aggregateId: 'b1', type: 'ChargingStarted', data: { siteId: 's1', powerKw: 3 } }]))
 */
export function gatewaySpec(options: GatewaySpecOptions): GatewaySpec {
  const { start, ...serverOptions } = options
  return {
    given(history) {
      return {
        async when(query, variables, headers = {}) {
          let now = start ?? SPEC_START
          const store = createInMemoryEventStore({ now: () => now })
          const app = await createServer({
            ...serverOptions,
            store,
            logger: false,
            env: { NODE_ENV: 'test' },
          })
          try {
            let last: bigint | undefined
            for (const event of history) {
              if (event.at) now = event.at
              last = await appendSpecEvent(store, options.aggregates, 'the spec', event)
            }
            await app.ready()
            const sources = app.annals.readSide?.sources ?? []
            if (last !== undefined) await Promise.all(sources.map((source) => source.waitFor(last, 10_000)))
            const response = await app.inject({
              method: 'POST',
              url: '/graphql',
              headers: { 'content-type': 'application/json', ...headers },
              payload: JSON.stringify({ query, variables }),
            })
            const reply = {
              status: response.statusCode,
              ...response.json<Omit<GatewayReply, 'status'>>(),
            }
            const appended: AppendedEvent[] = []
            for await (const event of store.readAll()) {
              if (last !== undefined && event.position <= last) continue
              const aggregate = aggregateOf(options.aggregates, event.streamName)
              if (!aggregate) continue
              appended.push({
                aggregate: aggregate.name,
                aggregateId: event.streamName.slice(aggregate.name.length + 1),
                type: event.type,
                data: event.data,
              })
            }
            return outcome(reply, appended)
          } finally {
            await app.close()
            await store.close()
          }
        },
      }
    },
  }
}

function aggregateOf(aggregates: readonly AnyAggregate[], stream: string): AnyAggregate | undefined {
  return aggregates.find((aggregate) => stream.startsWith(`${aggregate.name}-`))
}

function outcome(reply: GatewayReply, appended: readonly AppendedEvent[]): GatewaySpecOutcome {
  const self: GatewaySpecOutcome = {
    reply,
    appended,
    thenData(expected) {
      if (reply.errors?.length) {
        throw new AssertionError({ message: `The reply has errors: ${JSON.stringify(reply.errors)}` })
      }
      deepStrictEqual(reply.data, expected, 'The reply data')
      return self
    },
    thenError(code) {
      deepStrictEqual(reply.errors?.[0]?.extensions?.code, code, 'The code of the first error')
      return self
    },
    thenAppended(expected) {
      deepStrictEqual(appended, expected, 'The events appended')
      return self
    },
    thenNothingAppended: () => self.thenAppended([]),
  }
  return self
}
