import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate } from 'annals'
import { startGateway, type RunningGateway } from '../e2e/fixtures/start-gateway.ts'
import { Tank } from '../e2e/fixtures/tank.ts'

/** An aggregate whose `body` declares its own bound and whose `title` leaves it to the default. */
const Note = defineAggregate({
  name: 'Note',
  state: z.object({ written: z.boolean() }),
  initialState: { written: false },
  events: { NoteWritten: z.object({ title: z.string(), body: z.string() }) },
  commands: {
    write: {
      input: z.object({ title: z.string(), body: z.string().max(50_000) }),
      decide: (_state, input) => ({ type: 'NoteWritten', data: input }),
    },
  },
  evolve: { NoteWritten: () => ({ written: true }) },
})

const FILL =
  'mutation($id: ID!, $site: String!) { fill(id: $id, input: { site: $site, litres: 1 }) { aggregateId revision } }'
const WRITE =
  'mutation($id: ID!, $title: String!, $body: String!) { write(id: $id, input: { title: $title, body: $body }) { revision } }'

describe('aggregate ids and input sizes (abuse)', () => {
  let gateway: RunningGateway
  beforeAll(async () => {
    gateway = await startGateway({ aggregates: [Tank, Note] })
  })
  afterAll(() => gateway.close())

  const refusedIds: [string, string][] = [
    ['empty', ''],
    ['only whitespace', ' \t '],
    ['NUL', 'tank\u0000'],
    ['a control character', 'tank\u0007bell'],
    ['a right-to-left override', 'tank\u202egnp.exe'],
    ['a lone high surrogate', '\ud800X'],
    ['a lone low surrogate', '\udfffX'],
    ['201 bytes', 'x'.repeat(201)],
    ['65,535 characters', 'x'.repeat(65_535)],
  ]
  it.each(refusedIds)(
    'refuses an aggregate id with %s as BAD_INPUT at `id`, appending nothing',
    async (_, id) => {
      const { status, body } = await gateway.gql(FILL, { id, site: 's' })
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_INPUT', issues: [{ path: ['id'] }] })
      expect(body.data?.['fill'] ?? null).toBeNull()
      expect(status).toBe(200)
    },
  )

  it('keeps ids that differ only in a lone surrogate apart: U+FFFD is accepted, the surrogate refused', async () => {
    const replaced = await gateway.gql(FILL, { id: '\ufffdX', site: 's' })
    expect(replaced.body.data?.['fill']).toEqual({ aggregateId: '\ufffdX', revision: '0' })
    const lone = await gateway.gql(FILL, { id: '\ud800X', site: 's' })
    expect(lone.body.errors?.[0]?.extensions.code).toBe('BAD_INPUT')
  })

  it('accepts an id of letters from any script and emoji, up to 200 UTF-8 bytes', async () => {
    for (const id of ['Zähler-Ω-電池-🔋', 'x'.repeat(200), 'a b']) {
      const { body } = await gateway.gql(FILL, { id, site: 's' })
      expect(body.data?.['fill']).toMatchObject({ aggregateId: id })
    }
  })

  it('refuses a command id with a control character as BAD_INPUT at `commandId`', async () => {
    const { body } = await gateway.gql(
      'mutation { fill(id: "t-cmd", input: { site: "s", litres: 1 }, commandId: "c\\u0000") { revision } }',
    )
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      issues: [{ path: ['commandId'] }],
    })
  })

  it('refuses a 1,000,000-character string field as BAD_INPUT at its path, appending nothing', async () => {
    const { body } = await gateway.gql(FILL, { id: 't-huge', site: 'x'.repeat(1_000_000) })
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      issues: [{ path: ['input', 'site'] }],
    })
    const after = await gateway.gql(FILL, { id: 't-huge', site: 's' })
    expect(after.body.data?.['fill']).toEqual({ aggregateId: 't-huge', revision: '0' })
  })

  it('bounds a field without .max at 10,000 characters', async () => {
    const atBound = await gateway.gql(WRITE, { id: 'n-1', title: 'x'.repeat(10_000), body: 'b' })
    expect(atBound.body.data?.['write']).toEqual({ revision: '0' })
    const past = await gateway.gql(WRITE, { id: 'n-2', title: 'x'.repeat(10_001), body: 'b' })
    expect(past.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      issues: [{ path: ['input', 'title'] }],
    })
  })

  it("lets a field's own .max(n) raise its bound, and holds the field to it", async () => {
    const long = await gateway.gql(WRITE, { id: 'n-3', title: 't', body: 'x'.repeat(40_000) })
    expect(long.body.data?.['write']).toEqual({ revision: '0' })
    const past = await gateway.gql(WRITE, { id: 'n-4', title: 't', body: 'x'.repeat(50_001) })
    expect(past.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_INPUT',
      issues: [{ path: ['input', 'body'] }],
    })
  })
})
