/**
 * The schema-change gate: a snapshot of what clients and stored events depend on (the GraphQL SDL and each
 * event type's version and JSON Schema), and the changes against it that would break them.
 *
 * The rule for events: an event type in the snapshot must still be declared, by the aggregate that declared
 * it. At the same version its JSON Schema must be the same, since events stored at that version are parsed
 * by the schema as it is now with no upcaster in between; any change to it, widening ones included, comes
 * with a higher version, whose upcasters versionedEvent requires from every version below it. A version
 * lower than the snapshot's is breaking too (events stored at the higher one could not be read).
 */
import { buildSchema, findBreakingChanges, printSchema, type GraphQLSchema } from 'graphql'
import { isDeepStrictEqual } from 'node:util'
import { z } from 'zod'
import type { AnyAggregate } from '../framework/aggregate/define-aggregate.ts'
import { isVersionedEvent } from '../framework/aggregate/versioned-event.ts'

export interface EventSnapshot {
  readonly version: number
  /** The JSON Schema of the data as stored at `version` (zod's input side: what parsing accepts). */
  readonly schema: unknown
}

export interface SchemaSnapshot {
  /** The SDL, a line per entry so that a change reads as a diff. */
  readonly graphql: readonly string[]
  /** By aggregate, then by event type. */
  readonly events: Readonly<Record<string, Readonly<Record<string, EventSnapshot>>>>
}

/** What a deploy would depend on now. */
export function takeSchemaSnapshot(
  schema: GraphQLSchema,
  aggregates: readonly AnyAggregate[],
): SchemaSnapshot {
  const events: Record<string, Record<string, EventSnapshot>> = {}
  for (const aggregate of aggregates) {
    const types: Record<string, EventSnapshot> = {}
    for (const [type, declaration] of Object.entries(aggregate.events as Record<string, unknown>)) {
      const zodSchema = (isVersionedEvent(declaration) ? declaration.schema : declaration) as z.ZodType
      types[type] = {
        version: aggregate.eventVersion(type),
        schema: z.toJSONSchema(zodSchema, { io: 'input', unrepresentable: 'any' }),
      }
    }
    events[aggregate.name] = types
  }
  return { graphql: printSchema(schema).split('\n'), events }
}

/** Each change from `before` to `now` that breaks a client or an event already stored, described. */
export function breakingSchemaChanges(before: SchemaSnapshot, now: SchemaSnapshot): string[] {
  const changes = findBreakingChanges(sdlSchema(before), sdlSchema(now)).map(
    (change) => `GraphQL ${change.type}: ${change.description}`,
  )
  for (const [aggregate, types] of Object.entries(before.events)) {
    const current = now.events[aggregate]
    for (const [type, stored] of Object.entries(types)) {
      const declared = current?.[type]
      const name = `${aggregate} event ${type}`
      if (declared === undefined) {
        changes.push(`${name} is no longer declared: its stored events would not load`)
      } else if (declared.version < stored.version) {
        changes.push(`${name} went back from version ${stored.version} to ${declared.version}`)
      } else if (declared.version === stored.version && !isDeepStrictEqual(declared.schema, stored.schema)) {
        changes.push(
          `${name} changed its schema at version ${stored.version}: declare it with versionedEvent at ` +
            `version ${stored.version + 1} and an upcaster from ${stored.version}`,
        )
      }
    }
  }
  return changes
}

const sdlSchema = (snapshot: SchemaSnapshot) => buildSchema(snapshot.graphql.join('\n'))
