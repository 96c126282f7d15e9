import { GraphQLObjectType, GraphQLSchema, GraphQLString, printSchema, type GraphQLNamedType } from 'graphql'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { fromGraphQLInput } from '../resolvers/from-graphql-input.ts'
import { createTypeRegistry } from './type-registry.ts'
import { zodInputType } from './zod-input-type.ts'

function sdlOf(schema: z.ZodType, name = 'StartCharging'): string {
  const registry = createTypeRegistry()
  const type = zodInputType(registry, schema, { name, owner: `command ${name}` })
  const query = new GraphQLObjectType({
    name: 'Query',
    fields: { run: { type: GraphQLString, args: { input: { type } } } },
  })
  return printSchema(new GraphQLSchema({ query, types: registry.types() as GraphQLNamedType[] }))
}

describe('zodInputType', () => {
  it('maps an object to an input type named <name>Input', () => {
    const sdl = sdlOf(z.object({ kw: z.number().positive(), note: z.string().optional() }))
    expect(sdl).toMatch(/input StartChargingInput {\n\s+kw: Float!\n\s+note: String\n}/)
  })

  it('shows plain defaults in the SDL and makes their fields nullable', () => {
    expect(sdlOf(z.object({ reserve: z.number().int().default(10) }))).toContain('reserve: Int = 10')
  })

  it('refuses a field whose name GraphQL cannot spell, naming the field', () => {
    expect(() => sdlOf(z.object({ 'charge-level': z.number() }))).toThrow(
      'command StartCharging, field charge-level: not a valid GraphQL field name',
    )
  })

  it('maps a discriminated union to a @oneOf input', () => {
    const Order = z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('charge'), kw: z.number() }),
      z.object({ kind: z.literal('stop') }),
    ])
    const sdl = sdlOf(z.object({ order: Order }), 'Dispatch')
    expect(sdl).toMatch(
      /input DispatchOrderInput @oneOf {[^}]*charge: DispatchOrderChargeInput\n\s+stop: Boolean\n}/,
    )
    expect(sdl).toMatch(/input DispatchOrderChargeInput {\n\s+kw: Float!\n}/)
  })
})

describe('fromGraphQLInput', () => {
  it('drops nulls where the schema allows absence but not null', () => {
    const schema = z.object({ a: z.string().optional(), b: z.string().nullable() })
    expect(fromGraphQLInput(schema, { a: null, b: null })).toEqual({ b: null })
  })

  it('turns a @oneOf variant back into its discriminated object', () => {
    const schema = z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('charge'), kw: z.number() }),
      z.object({ kind: z.literal('stop') }),
    ])
    expect(fromGraphQLInput(schema, { charge: { kw: 5 } })).toEqual({ kind: 'charge', kw: 5 })
    expect(fromGraphQLInput(schema, { stop: true })).toEqual({ kind: 'stop' })
  })

  it('refuses a @oneOf value with two variants as BAD_INPUT', () => {
    const schema = z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('a'), x: z.number() }),
      z.object({ kind: z.literal('b'), y: z.number() }),
    ])
    expect(() => fromGraphQLInput(schema, { a: { x: 1 }, b: { y: 2 } })).toThrow(
      expect.objectContaining({ code: 'BAD_INPUT' }),
    )
  })

  it('turns DateTime strings into Dates and numeric strings into bigints where the schema says so', () => {
    const schema = z.object({ at: z.date(), big: z.bigint() })
    expect(fromGraphQLInput(schema, { at: '2026-01-01T00:00:00.000Z', big: '12' })).toEqual({
      at: new Date('2026-01-01T00:00:00.000Z'),
      big: 12n,
    })
  })
})
