import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { checkInputStrings } from './check-input-strings.ts'

const long = 'x'.repeat(101)
const pathsRefused = (schema: z.ZodType, input: unknown): unknown => {
  try {
    checkInputStrings(schema, input, 100)
    return []
  } catch (error) {
    return (error as { issues: { path: unknown[] }[] }).issues.map((issue) => issue.path)
  }
}

describe('checkInputStrings', () => {
  it('refuses a long string where the schema declares no bound, at its path', () => {
    const schema = z.object({ tags: z.array(z.string()), meta: z.record(z.string(), z.string()) })
    expect(pathsRefused(schema, { tags: ['a', long], meta: { k: long } })).toEqual([
      ['tags', 1],
      ['meta', 'k'],
    ])
  })

  it("follows the field's own .max through optional, union and nested objects", () => {
    const text = z.string().max(1000).optional()
    const schema = z.object({ note: z.union([z.object({ body: text }), z.number()]) })
    expect(pathsRefused(schema, { note: { body: long } })).toEqual([])
  })

  it('refuses long keys and values nested past the walk', () => {
    expect(pathsRefused(z.record(z.string(), z.number()), { [long]: 1 })).toEqual([[]])
    let deep: unknown = 'x'
    for (let level = 0; level < 70; level++) deep = [deep]
    expect(pathsRefused(z.unknown(), deep)).toHaveLength(1)
  })
})
