import { describe, expect, it } from 'vitest'
import { AnnalsError, BadInputError, DomainError } from '../../errors.ts'
import {
  errorFromWire,
  errorToWire,
  resultFromWire,
  resultToWire,
  type WireError,
  type WireResult,
} from './command-wire.ts'

const roundTrip = (error: unknown) =>
  errorFromWire(JSON.parse(JSON.stringify(errorToWire(error).body)) as WireError)

describe('command wire', () => {
  it('carries a result with bigint revisions and positions across JSON unchanged', () => {
    const result = {
      aggregateId: 'c-1',
      commandId: 'cmd-1',
      revision: 9007199254740993n,
      position: 123456789012345678n,
      events: [
        {
          id: 'e',
          type: 'Incremented',
          data: { by: 1 },
          revision: 9007199254740993n,
          position: 123456789012345678n,
        },
      ],
    }
    expect(resultFromWire(JSON.parse(JSON.stringify(resultToWire(result))) as WireResult)).toEqual(result)
  })

  it('rebuilds BAD_INPUT as a BadInputError with its issues', () => {
    const error = roundTrip(
      new BadInputError('bad', [{ path: ['by'], message: 'Too small', code: 'too_small' }]),
    )
    expect(error).toBeInstanceOf(BadInputError)
    expect((error as BadInputError).issues).toEqual([
      { path: ['by'], message: 'Too small', code: 'too_small' },
    ])
  })

  it('rebuilds a domain code as a DomainError with its details', () => {
    const error = roundTrip(new DomainError('BATTERY_EMPTY', 'empty', { charge: 0 }))
    expect(error).toBeInstanceOf(DomainError)
    expect(error).toMatchObject({ code: 'BATTERY_EMPTY', message: 'empty', details: { charge: 0 } })
  })

  it('keeps a framework code and turns bigint details into strings', () => {
    const error = roundTrip(new AnnalsError('CONCURRENCY_CONFLICT', 'moved', { details: { actual: 5n } }))
    expect(error).toMatchObject({ code: 'CONCURRENCY_CONFLICT', details: { actual: '5' } })
    expect(errorToWire(new AnnalsError('CONCURRENCY_CONFLICT', 'moved')).status).toBe(409)
  })

  it('hides an unexpected error behind INTERNAL', () => {
    const wire = errorToWire(new TypeError('secret internals'))
    expect(wire).toEqual({
      status: 500,
      body: { code: 'INTERNAL', message: 'The owning replica failed unexpectedly' },
    })
  })
})
