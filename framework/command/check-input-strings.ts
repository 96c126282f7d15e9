import type { z } from 'zod'
import { BadInputError } from '../errors.ts'
import { defOf, inspectZod } from '../graphql/schema/inspect-zod.ts'

/** The longest string (in UTF-16 units) a command input field takes unless its schema says `.max(n)`. */
export const defaultMaxStringLength = 10_000

/** Deeper than any input a schema describes; a value past it is refused rather than walked. */
const maxDepth = 64

/**
 * Refuses, before the command's schema parses it, an input whose strings (values and keys) are longer than
 * `maxLength`, unless the schema declares a `.max(n)` for that field, which then sets its bound (zod checks
 * it while parsing). So a field nobody thought to bound cannot store a megabyte forever, and a schema that
 * wants long text says so where the field is declared. Throws BAD_INPUT with the path of each long string.
 *
 * @example
 * checkInputStrings(z.object({ note: z.string() }), { note: 'x'.repeat(20_000) }, 10_000) // BAD_INPUT at note
 * checkInputStrings(z.object({ note: z.string().max(50_000) }), { note: 'x'.repeat(20_000) }, 10_000) // passes
 */
export function checkInputStrings(schema: z.ZodType, input: unknown, maxLength: number): void {
  // Every command passes here: the common case allocates nothing.
  if (!exceeds(input, maxLength, 0)) return
  const issues: { path: PropertyKey[]; message: string; code: string }[] = []
  visit(input, [], 0)
  if (issues.length === 0) return
  const where = issues.map((issue) => issue.path.join('.') || '(root)').join(', ')
  throw new BadInputError(`Input strings too long at ${where}`, issues)

  function visit(value: unknown, path: PropertyKey[], depth: number): void {
    if (issues.length >= 10) return
    if (typeof value === 'string') {
      if (value.length > maxLength && value.length > declaredMax(schema, path)) {
        issues.push({
          path,
          code: 'too_big',
          message: `Too long: ${value.length} characters, the bound is ${Math.max(maxLength, declaredMax(schema, path))} (declare .max(n) on the field to change it)`,
        })
      }
      return
    }
    if (typeof value !== 'object' || value === null) return
    if (depth >= maxDepth) {
      issues.push({ path, code: 'too_big', message: `Nested deeper than ${maxDepth} levels` })
      return
    }
    if (Array.isArray(value)) {
      value.forEach((item: unknown, index) => visit(item, [...path, index], depth + 1))
      return
    }
    for (const [key, item] of Object.entries(value)) {
      if (key.length > maxLength) {
        issues.push({ path, code: 'too_big', message: `A key of ${key.length} characters` })
        return
      }
      visit(item, [...path, key], depth + 1)
    }
  }
}

function exceeds(value: unknown, maxLength: number, depth: number): boolean {
  if (typeof value === 'string') return value.length > maxLength
  if (typeof value !== 'object' || value === null) return false
  if (depth >= maxDepth) return true
  if (Array.isArray(value)) {
    for (const item of value as unknown[]) if (exceeds(item, maxLength, depth + 1)) return true
    return false
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    if (key.length > maxLength || exceeds((value as Record<string, unknown>)[key], maxLength, depth + 1))
      return true
  }
  return false
}

/**
 * The `.max(n)` the schema declares for the string at `path` (the largest, where a union offers several), or
 * 0 when it declares none or the path leads nowhere the schema describes.
 */
function declaredMax(schema: z.ZodType, path: readonly PropertyKey[]): number {
  const base = inspectZod(schema, 'input').base
  const def = defOf(base)
  if (def.type === 'union') {
    return Math.max(0, ...(def.options as z.ZodType[]).map((option) => declaredMax(option, path)))
  }
  const [step, ...rest] = path
  if (step === undefined) {
    return def.type === 'string' ? ((base as z.ZodString).maxLength ?? 0) : 0
  }
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, z.ZodType>
      const field = typeof step === 'string' && Object.hasOwn(shape, step) ? shape[step] : undefined
      const next = field ?? (def.catchall as z.ZodType | undefined)
      return next ? declaredMax(next, rest) : 0
    }
    case 'array':
      return declaredMax(def.element as z.ZodType, rest)
    case 'tuple': {
      const items = def.items as z.ZodType[]
      const next = typeof step === 'number' ? (items[step] ?? (def.rest as z.ZodType | null)) : undefined
      return next ? declaredMax(next, rest) : 0
    }
    case 'record':
      return declaredMax(def.valueType as z.ZodType, rest)
    default:
      return 0
  }
}
