import { printSchema } from 'graphql'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate } from '../../aggregate/define-aggregate.ts'
import { buildGatewaySchema } from './build-gateway-schema.ts'

const compact = (sdl: string) => sdl.replace(/"""[\s\S]*?"""/g, '').replace(/\s+/g, ' ')

const aggregate = (name: string, command: string, event = 'Started') =>
  defineAggregate({
    name,
    state: z.object({}),
    initialState: {},
    events: { [event]: z.object({ at: z.iso.datetime() }) } as {
      Started: z.ZodObject<{ at: z.ZodISODateTime }>
    },
    commands: {
      [command]: {
        input: z.object({ at: z.iso.datetime() }),
        decide: (_s, { at }) => ({ type: 'Started', data: { at } }),
      },
    },
    evolve: { [event]: (state: Record<string, never>) => state } as {
      Started: (state: Record<string, never>) => Record<string, never>
    },
  })

describe('buildGatewaySchema', () => {
  it('builds a mutation per command and an event union per aggregate', () => {
    const sdl = compact(
      printSchema(buildGatewaySchema({ aggregates: [aggregate('Pump', 'start')], sources: [] })),
    )
    expect(sdl).toContain('start( id: ID! input: StartInput! commandId: ID ): PumpCommandResult!')
    expect(sdl).toContain('union PumpEvent = Started')
    expect(sdl).toContain('at: DateTime!')
  })

  it('refuses two aggregates whose events share a GraphQL name, naming both', () => {
    expect(() =>
      buildGatewaySchema({
        aggregates: [aggregate('Pump', 'start'), aggregate('Valve', 'open')],
        sources: [],
      }),
    ).toThrow(/GraphQL type Started: aggregate Pump, event Started and aggregate Valve, event Started/)
  })

  it('refuses two commands with the same name, naming both aggregates', () => {
    expect(() =>
      buildGatewaySchema({
        aggregates: [aggregate('Pump', 'start'), aggregate('Fan', 'start', 'Spun')],
        sources: [],
      }),
    ).toThrow(/Mutation.start: aggregate Pump, command start and aggregate Fan, command start/)
  })
})
