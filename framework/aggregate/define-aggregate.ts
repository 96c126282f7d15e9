import type { z } from 'zod'
import { AnnalsError, StoredEventError } from '../errors.ts'
import { isVersionedEvent, type VersionedEvent } from './versioned-event.ts'

/** An event declaration: a zod schema, or `versionedEvent(schema, …)` when older shapes are in the log. */
export type EventDeclaration = z.ZodType | VersionedEvent<z.ZodType>
export type EventMap = Record<string, EventDeclaration>
export type EventSchemaOf<D> = D extends VersionedEvent<infer S> ? S : D extends z.ZodType ? D : never

/** What a decide function returns: one declared event type with data of its schema's input shape. */
export type EmittedEvent<TEvents extends EventMap> = {
  [K in keyof TEvents & string]: { readonly type: K; readonly data: z.input<EventSchemaOf<TEvents[K]>> }
}[keyof TEvents & string]

/** An event as evolve and the read side see it: parsed, upcast, typed. */
export type DomainEvent<TEvents extends EventMap> = {
  [K in keyof TEvents & string]: { readonly type: K; readonly data: z.output<EventSchemaOf<TEvents[K]>> }
}[keyof TEvents & string]

export interface DecideContext {
  /** The aggregate id the command is addressed to. */
  readonly id: string
  /** The revision the state is at; -1n for an aggregate that has no events yet. */
  readonly revision: bigint
  readonly commandId: string
  /** The time the command is decided; use it rather than `new Date()` so tests can fix it. */
  readonly now: Date
}

export interface EvolveContext {
  readonly id: string
  readonly revision: bigint
  readonly createdAt: Date
}

export interface CommandDefinition<TState, TEvents extends EventMap, TInput extends z.ZodType> {
  readonly input: TInput
  readonly description?: string
  /**
   * Sent only by the service itself (reactors, workflows, code holding the command bus): no GraphQL mutation
   * is generated for it, so no client can call it. Default false.
   */
  readonly internal?: boolean
  readonly decide: (
    state: TState,
    input: z.output<TInput>,
    context: DecideContext,
  ) => EmittedEvent<TEvents> | readonly EmittedEvent<TEvents>[]
}

export interface AggregateConfig<
  TName extends string,
  TState,
  TEvents extends EventMap,
  TCommands extends Record<string, z.ZodType>,
> {
  /** The aggregate's type name; its streams are `${name}-${id}`. */
  readonly name: TName
  readonly description?: string
  readonly state: z.ZodType<TState>
  readonly initialState: NoInfer<TState> | ((id: string) => NoInfer<TState>)
  readonly events: TEvents
  readonly commands: {
    readonly [K in keyof TCommands]: CommandDefinition<TState, TEvents, TCommands[K]>
  }
  readonly evolve: {
    readonly [K in keyof NoInfer<TEvents>]: (
      state: TState,
      data: z.output<EventSchemaOf<TEvents[K]>>,
      context: EvolveContext,
    ) => NoInfer<TState>
  }
  /** Store a snapshot every this many events (0 or omitted: never). */
  readonly snapshotEvery?: number
}

export interface AggregateDefinition<
  TName extends string = string,
  TState = any, // eslint-disable-line @typescript-eslint/no-explicit-any
  TEvents extends EventMap = EventMap,
  TCommands extends Record<string, z.ZodType> = Record<string, z.ZodType>,
> extends AggregateConfig<TName, TState, TEvents, TCommands> {
  readonly kind: 'aggregate'
  readonly snapshotEvery: number
  /** The stream of one aggregate instance. */
  streamName(id: string): string
  /** The stream its snapshots go to. */
  snapshotStreamName(id: string): string
  initial(id: string): TState
  /** The current schema version of an event type (1 unless declared with versionedEvent). */
  eventVersion(type: string): number
  /** Parses a stored event: upcasts older versions, validates, names stream/revision/type on failure. */
  parseStoredEvent(stored: StoredEventLike): DomainEvent<TEvents>
  /** Applies one parsed event to a state. */
  apply(state: TState, event: DomainEvent<TEvents>, context: EvolveContext): TState
}

/** The fields of a stored event that parsing needs; RecordedEvent has them all. */
export interface StoredEventLike {
  readonly streamName: string
  readonly revision: bigint
  readonly type: string
  readonly data: unknown
  readonly metadata: Readonly<Record<string, unknown>>
}

/** Any aggregate, whatever its types: what registries and the gateway hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyAggregate = AggregateDefinition<string, any, any, any>

/** Metadata key under which an event's schema version is stored. */
export const SCHEMA_VERSION_KEY = 'schemaVersion'

/**
 * Declares an aggregate: its state, the events it emits, the commands it decides and how each event evolves
 * the state. Types flow from the schemas: decide can only return declared events, inputs are inferred.
 *
 * @example
 * const Counter = defineAggregate({
 *   name: 'Counter',
 *   state: z.object({ value: z.number() }),
 *   initialState: { value: 0 },
 *   events: { Incremented: z.object({ by: z.number() }) },
 *   commands: {
 *     increment: { input: z.object({ by: z.number().int().positive() }), decide: (_s, { by }) => ({ type: 'Incremented', data: { by } }) },
 *   },
 *   evolve: { Incremented: (state, { by }) => ({ value: state.value + by }) },
 * })
 */
export function defineAggregate<
  const TName extends string,
  // const keeps literal fields (status: 'idle') that evolve returns from widening to string
  const TState,
  TEvents extends EventMap,
  TCommands extends Record<string, z.ZodType>,
>(
  config: AggregateConfig<TName, TState, TEvents, TCommands>,
): AggregateDefinition<TName, TState, TEvents, TCommands> {
  if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(config.name)) {
    throw new AnnalsError(
      'BAD_CONFIG',
      `Aggregate name "${config.name}" must be an identifier (letters, digits, _)`,
    )
  }
  for (const type of Object.keys(config.events)) {
    if (!(type in config.evolve)) {
      throw new AnnalsError('BAD_CONFIG', `Aggregate ${config.name}: event ${type} has no evolve function`)
    }
  }
  const { initialState } = config
  const initial =
    typeof initialState === 'function'
      ? (initialState as (id: string) => TState)
      : () => structuredClone(initialState)

  return {
    ...config,
    kind: 'aggregate',
    snapshotEvery: config.snapshotEvery ?? 0,
    streamName: (id) => `${config.name}-${id}`,
    snapshotStreamName: (id) => `annals-snapshot-${config.name}-${id}`,
    initial,
    eventVersion: (type) => {
      const declaration = Object.hasOwn(config.events, type) ? config.events[type] : undefined
      return declaration && isVersionedEvent(declaration) ? declaration.version : 1
    },
    parseStoredEvent: (stored) => parseStoredEvent(config.events, stored) as DomainEvent<TEvents>,
    apply: (state, event, context) => {
      const evolve = config.evolve[event.type] as (s: TState, d: unknown, c: EvolveContext) => TState
      return evolve(state, event.data, context)
    },
  }
}

function parseStoredEvent(events: EventMap, stored: StoredEventLike): { type: string; data: unknown } {
  const declaration = Object.hasOwn(events, stored.type) ? events[stored.type] : undefined
  if (declaration === undefined) {
    throw new StoredEventError(
      'UNKNOWN_EVENT_TYPE',
      stored.streamName,
      stored.revision,
      stored.type,
      'the aggregate declares no such event',
    )
  }
  const rawVersion = stored.metadata[SCHEMA_VERSION_KEY]
  const storedVersion = typeof rawVersion === 'number' ? rawVersion : 1
  let data = stored.data
  let schema: z.ZodType
  if (isVersionedEvent(declaration)) {
    schema = declaration.schema
    try {
      data = declaration.upcast(data, storedVersion)
    } catch (cause) {
      throw new StoredEventError(
        'MALFORMED_EVENT',
        stored.streamName,
        stored.revision,
        stored.type,
        `cannot upcast from version ${storedVersion}: ${(cause as Error).message}`,
        { cause },
      )
    }
  } else {
    schema = declaration
    if (storedVersion !== 1) {
      throw new StoredEventError(
        'MALFORMED_EVENT',
        stored.streamName,
        stored.revision,
        stored.type,
        `stored as version ${storedVersion} but the aggregate declares version 1`,
      )
    }
  }
  const parsed = schema.safeParse(data)
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new StoredEventError('MALFORMED_EVENT', stored.streamName, stored.revision, stored.type, where, {
      cause: parsed.error,
    })
  }
  return { type: stored.type, data: parsed.data }
}
