import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  AnnalsError,
  BadInputError,
  ConcurrencyConflictError,
  DomainError,
  errorCodes,
  isErrorCode,
} from './errors.ts'

/** The rows of the table in docs/errors.md: code and HTTP status. */
function documentedCodes(): Map<string, number> {
  const markdown = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const rows = new Map<string, number>()
  for (const match of markdown.matchAll(/^\|\s*`([A-Z0-9_]+)`\s*\|\s*(\d{3})\s*\|/gm)) {
    rows.set(match[1]!, Number(match[2]))
  }
  return rows
}

describe('error codes', () => {
  it('are all documented in docs/errors.md with their HTTP status, and nothing else is', () => {
    const declared = new Map(Object.entries(errorCodes).map(([code, { http }]) => [code, http]))
    expect(Object.fromEntries(documentedCodes())).toEqual(Object.fromEntries(declared))
  })

  it('are SCREAMING_SNAKE and each has a meaning', () => {
    for (const [code, { meaning }] of Object.entries(errorCodes)) {
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/)
      expect(meaning.length).toBeGreaterThan(10)
    }
  })

  it('are typed: a framework error takes one of them, only a DomainError takes a code of its own', () => {
    // @ts-expect-error -- a typo in a framework error's code does not compile (the typecheck fails without it)
    expect(new AnnalsError('BAD_INPTU', 'typo').code).toBe('BAD_INPTU')
    const refused = new DomainError('BATTERY_EMPTY', 'empty')
    expect(refused).toMatchObject({ code: 'BATTERY_EMPTY', name: 'DomainError' })
    expect(refused).toBeInstanceOf(AnnalsError)
    expect([isErrorCode('BAD_INPUT'), isErrorCode('BATTERY_EMPTY'), isErrorCode('toString')]).toEqual([
      true,
      false,
      false,
    ])
  })

  it('travel on the errors users catch', () => {
    expect(new BadInputError('bad', [{ path: ['kw'], message: 'too big' }])).toMatchObject({
      code: 'BAD_INPUT',
      details: { issues: [{ path: ['kw'], message: 'too big' }] },
    })
    expect(new ConcurrencyConflictError('s-1', 3n, 5n).code).toBe('CONCURRENCY_CONFLICT')
    expect(new DomainError('BATTERY_EMPTY', 'empty')).toBeInstanceOf(AnnalsError)
  })
})
