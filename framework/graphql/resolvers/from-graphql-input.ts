import type { z } from 'zod'
import { BadInputError } from '../../errors.ts'
import { defOf, inspectZod } from '../schema/inspect-zod.ts'
import { oneOfFieldName } from '../schema/zod-input-type.ts'
import { discriminatedOptions } from '../schema/zod-output-type.ts'

/**
 * Turns a GraphQL input value back into the shape its zod schema parses: a null for a field that may be
 * absent but not null is dropped, a @oneOf variant becomes its discriminated object, DateTime strings become
 * Dates where the schema wants a Date, and numeric strings become bigints. Validation stays with zod.
 */
export function fromGraphQLInput(schema: z.ZodType, value: unknown, path: readonly string[] = []): unknown {
  const { base, nullable } = inspectZod(schema, 'input')
  if (value === null || value === undefined) return nullable ? value : undefined
  const def = defOf(base)
  switch (def.type) {
    case 'object':
      return objectValue(base as z.ZodObject, value, path)
    case 'array':
      return Array.isArray(value)
        ? value.map((item, index) =>
            fromGraphQLInput(def.element as z.ZodType, item, [...path, String(index)]),
          )
        : value
    case 'union':
      return unionValue(base, value, path)
    case 'date':
      return typeof value === 'string' ? new Date(value) : value
    case 'bigint':
      return typeof value === 'string' && /^-?[0-9]+$/.test(value) ? BigInt(value) : value
    default:
      return value
  }
}

function objectValue(schema: z.ZodObject, value: unknown, path: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value
  const shape = schema.shape as Record<string, z.ZodType>
  const result: Record<string, unknown> = {}
  for (const [field, fieldValue] of Object.entries(value as Record<string, unknown>)) {
    const fieldSchema = shape[field]
    const converted = fieldSchema ? fromGraphQLInput(fieldSchema, fieldValue, [...path, field]) : fieldValue
    if (converted !== undefined) result[field] = converted
  }
  return result
}

function unionValue(schema: z.ZodType, value: unknown, path: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null) return value
  const { discriminator, options } = discriminatedOptions(schema, { name: '', owner: path.join('.') })
  const chosen = Object.entries(value as Record<string, unknown>).filter(
    ([, variant]) => variant !== null && variant !== undefined,
  )
  const [first] = chosen
  if (chosen.length !== 1 || !first) {
    throw new BadInputError(`Exactly one variant must be given at ${path.join('.') || 'input'}`, [
      { path, message: `Exactly one of ${[...options.keys()].map(oneOfFieldName).join(', ')} must be given` },
    ])
  }
  const [field, variant] = first
  for (const [discriminatorValue, option] of options) {
    if (oneOfFieldName(discriminatorValue) !== field) continue
    const fields = typeof variant === 'object' ? objectValue(option, variant, [...path, field]) : {}
    return { ...(fields as object), [discriminator]: discriminatorValue }
  }
  return value
}
