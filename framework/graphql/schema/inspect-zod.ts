import { z } from 'zod'

/** The parts of a zod schema the GraphQL mapping needs, with the wrappers (optional, default, ...) peeled off. */
export interface InspectedZod {
  /** The innermost schema once wrappers are peeled. */
  readonly base: z.ZodType
  /** Absent is allowed: optional, exactOptional, default, prefault or catch. */
  readonly optional: boolean
  readonly nullable: boolean
  /** The first `.describe()` (or `.meta({ description })`) met from the outside in. */
  readonly description: string | undefined
  /** The `.default()` value, when it is plain JSON. */
  readonly defaultValue: unknown
}

type Def = { readonly type: string } & Record<string, unknown>

/** The definition of a zod 4 schema (`schema._zod.def`). */
export function defOf(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def
}

/** The GraphQL name a schema was given with `.meta({ id })`, if any. */
export function declaredName(schema: z.ZodType): string | undefined {
  const id = z.globalRegistry.get(schema)?.id
  return typeof id === 'string' ? id : undefined
}

/**
 * Peels wrappers off a schema. `side` picks the pipe end: inputs are read by the pipe's input schema,
 * outputs by its output schema.
 */
export function inspectZod(schema: z.ZodType, side: 'input' | 'output'): InspectedZod {
  let current = schema
  let optional = false
  let nullable = false
  let description: string | undefined
  let defaultValue: unknown
  for (let depth = 0; depth < 64; depth++) {
    description ??= z.globalRegistry.get(current)?.description
    const def = defOf(current)
    switch (def.type) {
      case 'optional':
      case 'catch':
        optional = true
        current = def.innerType as z.ZodType
        continue
      case 'default':
      case 'prefault':
        optional = true
        defaultValue ??= jsonDefault(def.defaultValue)
        current = def.innerType as z.ZodType
        continue
      case 'nonoptional':
      case 'readonly':
      case 'promise':
        current = def.innerType as z.ZodType
        continue
      case 'nullable':
        nullable = true
        current = def.innerType as z.ZodType
        continue
      case 'lazy':
        current = (def.getter as () => z.ZodType)()
        continue
      case 'pipe': {
        const next = (side === 'input' ? def.in : def.out) as z.ZodType
        // A transform's output has no schema: GraphQL can only say JSON, which the caller decides.
        if (side === 'output' && defOf(next).type === 'transform') return done()
        current = next
        continue
      }
    }
    return done()
  }
  throw new Error('The zod schema nests wrappers more than 64 deep')

  function done(): InspectedZod {
    return { base: current, optional, nullable, description, defaultValue }
  }
}

/** Whether a number schema only accepts integers (z.int(), z.number().int()). */
export function isIntegerSchema(schema: z.ZodType): boolean {
  const format = (schema as { format?: string | null }).format
  return typeof format === 'string' && ['safeint', 'int32', 'uint32'].includes(format)
}

/** Whether a string schema is an ISO date-time (z.iso.datetime()). */
export function isDateTimeString(schema: z.ZodType): boolean {
  return (schema as { format?: string | null }).format === 'datetime'
}

function jsonDefault(value: unknown): unknown {
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return value
  if (Array.isArray(value) && value.every((item) => ['string', 'number', 'boolean'].includes(typeof item))) {
    return value
  }
  return undefined
}
