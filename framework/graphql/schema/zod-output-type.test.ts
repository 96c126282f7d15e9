import { GraphQLObjectType, GraphQLSchema, printSchema, printType, type GraphQLNamedType } from 'graphql'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createTypeRegistry } from './type-registry.ts'
import { zodOutputType } from './zod-output-type.ts'

function sdlOf(schema: z.ZodType, name = 'Row'): string {
  const registry = createTypeRegistry()
  const type = zodOutputType(registry, schema, { name, owner: `test ${name}` })
  const query = new GraphQLObjectType({ name: 'Query', fields: { row: { type } } })
  return printSchema(new GraphQLSchema({ query, types: registry.types() as GraphQLNamedType[] }))
}

describe('zodOutputType', () => {
  it('maps integers to Int and other numbers to Float', () => {
    const sdl = sdlOf(z.object({ count: z.number().int(), small: z.int(), ratio: z.number() }))
    expect(sdl).toContain('count: Int!')
    expect(sdl).toContain('small: Int!')
    expect(sdl).toContain('ratio: Float!')
  })

  it('makes optional and nullable fields nullable and the rest non-null', () => {
    const sdl = sdlOf(
      z.object({
        a: z.string(),
        b: z.string().optional(),
        c: z.string().nullable(),
        d: z.string().exactOptional(),
      }),
    )
    expect(sdl).toMatch(/a: String!\n\s+b: String\n\s+c: String\n\s+d: String\n/)
  })

  it('maps dates to DateTime, bigints to String and records to JSON', () => {
    const sdl = sdlOf(
      z.object({
        at: z.date(),
        iso: z.iso.datetime(),
        big: z.bigint(),
        tags: z.record(z.string(), z.number()),
      }),
    )
    expect(sdl).toContain('at: DateTime!')
    expect(sdl).toContain('iso: DateTime!')
    expect(sdl).toContain('big: String!')
    expect(sdl).toContain('tags: JSON!')
    expect(sdl).toContain('scalar DateTime')
  })

  it('maps enums to enum types, keeping values GraphQL can spell', () => {
    const sdl = sdlOf(z.object({ status: z.enum(['idle', 'charging']) }))
    expect(sdl).toContain('status: RowStatus!')
    expect(sdl).toMatch(/enum RowStatus {\n\s+idle\n\s+charging\n}/)
  })

  it('respells every value of an enum in upper snake case when one of them cannot be spelled', () => {
    const sdl = sdlOf(z.object({ status: z.enum(['idle', 'on-hold']) }))
    expect(sdl).toMatch(/enum RowStatus {\n\s+IDLE\n\s+ON_HOLD\n}/)
  })

  it('maps literals to the scalar of their value and arrays to lists', () => {
    const sdl = sdlOf(
      z.object({ kind: z.literal('battery'), level: z.literal(3), readings: z.array(z.number().optional()) }),
    )
    expect(sdl).toContain('kind: String!')
    expect(sdl).toContain('level: Int!')
    expect(sdl).toContain('readings: [Float]!')
  })

  it('maps nested objects to object types named after their path', () => {
    const sdl = sdlOf(z.object({ site: z.object({ id: z.string() }) }), 'Battery')
    expect(sdl).toContain('site: BatterySite!')
    expect(sdl).toMatch(/type BatterySite {\n\s+id: String!\n}/)
  })

  it('maps a discriminated union to a union of one object type per variant', () => {
    const Order = z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('charge'), kw: z.number() }),
      z.object({ kind: z.literal('stop'), reason: z.string() }),
    ])
    const sdl = sdlOf(z.object({ order: Order }), 'Plan')
    expect(sdl).toContain('union PlanOrder = PlanOrderCharge | PlanOrderStop')
    expect(sdl).toMatch(/type PlanOrderCharge {\n\s+kind: String!\n\s+kw: Float!\n}/)
  })

  it('carries .describe() into descriptions', () => {
    const sdl = sdlOf(z.object({ kw: z.number().describe('Power in kW.') }).describe('A reading.'))
    expect(sdl).toContain('"""A reading."""\ntype Row')
    expect(sdl).toContain('"""Power in kW."""\n  kw: Float!')
  })

  it('names a type by .meta({ id }) when given', () => {
    const Site = z.object({ id: z.string() }).meta({ id: 'Site' })
    expect(sdlOf(z.object({ site: Site }))).toContain('site: Site!')
  })

  it('reuses the type of one schema used in two places', () => {
    const Site = z.object({ id: z.string() })
    const sdl = sdlOf(z.object({ home: Site, work: Site }))
    expect(sdl).toContain('home: RowHome!')
    expect(sdl).toContain('work: RowHome!')
  })

  it('refuses two definitions that produce the same name, naming both', () => {
    const registry = createTypeRegistry()
    zodOutputType(registry, z.object({ a: z.string() }), {
      name: 'Reading',
      owner: 'aggregate Meter, event Reading',
    })
    expect(() =>
      zodOutputType(registry, z.object({ b: z.string() }), { name: 'Reading', owner: 'read model Reading' }),
    ).toThrow(/GraphQL type Reading: aggregate Meter, event Reading and read model Reading/)
  })

  it('refuses a field whose name GraphQL cannot spell, naming the field', () => {
    expect(() => sdlOf(z.object({ 'charge-level': z.number() }))).toThrow(
      'test Row, field charge-level: not a valid GraphQL field name',
    )
  })

  it('refuses a plain union with a message saying why', () => {
    expect(() =>
      sdlOf(z.object({ v: z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]) })),
    ).toThrow(/only discriminated unions/)
  })

  it('turns bigint values into strings when resolving', () => {
    const registry = createTypeRegistry()
    const type = zodOutputType(registry, z.object({ big: z.bigint() }), { name: 'Row', owner: 'test' })
    const named = (type as unknown as { ofType: GraphQLObjectType }).ofType
    expect(printType(named)).toContain('big: String!')
    const resolve = named.getFields()['big']?.resolve
    expect(resolve?.({ big: 12n }, {}, {}, {} as never)).toBe('12')
  })
})
