import { GraphQLNonNull, GraphQLObjectType, GraphQLString, GraphQLUnionType } from 'graphql'
import type { z } from 'zod'
import type { AnyAggregate, EventMap } from '../../aggregate/define-aggregate.ts'
import { isVersionedEvent } from '../../aggregate/versioned-event.ts'
import type { TypeRegistry } from './type-registry.ts'
import { zodOutputType } from './zod-output-type.ts'

/** One event as the gateway sends it: revision and position as strings, data as its schema shapes it. */
export interface EventFrame {
  readonly type: string
  readonly revision: string
  readonly position: string
  readonly data: unknown
}

/**
 * The union of an aggregate's events (`BatteryEvent`), one member per event type named after it
 * (`BatteryInstalled { type, revision, position, data: BatteryInstalledData }`), so a client selects the
 * data of each type with a fragment.
 */
export function aggregateEventType(registry: TypeRegistry, aggregate: AnyAggregate): GraphQLUnionType {
  const owner = `aggregate ${aggregate.name}`
  return registry.named({
    name: `${aggregate.name}Event`,
    key: aggregate,
    role: 'union',
    owner: `${owner} (its event union)`,
    build: (name) => {
      const members = new Map<string, GraphQLObjectType>()
      for (const [type, declaration] of Object.entries(aggregate.events as EventMap)) {
        const schema: z.ZodType = isVersionedEvent(declaration) ? declaration.schema : declaration
        members.set(type, eventMemberType(registry, { aggregate, type, schema }))
      }
      return new GraphQLUnionType({
        name,
        description: `An event of ${aggregate.name}, stamped with its revision in the stream and its position in the log.`,
        types: () => [...members.values()],
        resolveType: (frame) => members.get((frame as EventFrame).type)?.name,
      })
    },
  })
}

function eventMemberType(
  registry: TypeRegistry,
  event: { aggregate: AnyAggregate; type: string; schema: z.ZodType },
): GraphQLObjectType {
  const owner = `aggregate ${event.aggregate.name}, event ${event.type}`
  return registry.named({
    name: event.type,
    key: event.schema,
    role: 'framework',
    owner,
    build: (name) =>
      new GraphQLObjectType({
        name,
        fields: () => ({
          type: { type: new GraphQLNonNull(GraphQLString), description: 'The event type.' },
          revision: { type: new GraphQLNonNull(GraphQLString), description: 'Its revision in the stream.' },
          position: {
            type: new GraphQLNonNull(GraphQLString),
            description: 'Its position in the log: a consistency token.',
          },
          data: { type: zodOutputType(registry, event.schema, { name: `${name}Data`, owner }) },
        }),
      }),
  })
}
