import fc from 'fast-check'
import { GraphQLBoolean, GraphQLFloat, GraphQLID, GraphQLInt, GraphQLString } from 'graphql'
import { describe, expect, it } from 'vitest'
import { builtInScalars } from './built-in-scalars.ts'

const outcome = (serialize: (value: unknown) => unknown, value: unknown) => {
  try {
    return { value: serialize(value) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

describe('the compiled queries serializers of the built-in scalars', () => {
  const scalars = { GraphQLString, GraphQLID, GraphQLBoolean, GraphQLInt, GraphQLFloat }
  const values = fc.oneof(
    fc.anything(),
    fc.integer(),
    fc.double(),
    fc.constantFrom(2147483647, 2147483648, -2147483648, -2147483649, -0, NaN, Infinity, 1e21),
  )

  for (const [name, scalar] of Object.entries(scalars)) {
    it(`answers every value as graphql's ${name}.serialize does, value or error`, () => {
      const fast = builtInScalars[scalar.name]!
      fc.assert(
        fc.property(values, (value) => {
          expect(outcome(fast, value)).toEqual(outcome((v) => scalar.serialize(v), value))
        }),
        { numRuns: 500 },
      )
    })
  }
})
