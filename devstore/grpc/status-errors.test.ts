import { status } from '@grpc/grpc-js'
import { describe, expect, it } from 'vitest'
import {
  DamagedRecordError,
  DataCorruptError,
  DataDirLockedError,
  EngineClosedError,
  EngineFailedError,
  InvalidPositionError,
} from '../engine/engine-errors.ts'
import { engineFailure, engineFailureStatus } from './status-errors.ts'

// How an engine error reaches the client: on a call, a status the client classifies by its code; on one
// BatchAppend request, a google.rpc.Status whose packed detail the client unpacks (it ignores the code).

describe('engineFailure', () => {
  it('answers a position that is not an event position with INVALID_ARGUMENT', () => {
    expect(engineFailure(new InvalidPositionError(7n))).toMatchObject({ code: status.INVALID_ARGUMENT })
  })

  it('answers a closed or failed engine, or a locked directory, with UNAVAILABLE, so the client retries', () => {
    for (const error of [
      new EngineClosedError(),
      new EngineFailedError(new Error('EIO')),
      new DataDirLockedError('/data', 42),
    ]) {
      expect(engineFailure(error)).toMatchObject({
        code: status.UNAVAILABLE,
        details: `${error.code}: ${error.message}`,
      })
    }
  })

  it('answers a damaged log, or an unexpected error, with INTERNAL, which no retry mends', () => {
    expect(engineFailure(new DataCorruptError('/data/devstore.log', 10, 20))).toMatchObject({
      code: status.INTERNAL,
    })
    expect(engineFailure(new RangeError('too long'))).toMatchObject({
      code: status.INTERNAL,
      details: 'too long',
    })
  })

  it('answers a record damaged on disk with INTERNAL, its details led by DATA_CORRUPT, the file and offset', () => {
    expect(engineFailure(new DamagedRecordError('/data/devstore.log', 4096))).toMatchObject({
      code: status.INTERNAL,
      details: expect.stringMatching(
        /^DATA_CORRUPT: The devstore log \/data\/devstore\.log has a damaged record at offset 4096:/,
      ) as unknown,
    })
  })
})

describe('engineFailureStatus', () => {
  it('packs a Timeout detail for a server not ready, which the client reads as DeadlineExceededError', () => {
    const answer = engineFailureStatus(new EngineFailedError(new Error('EIO')))
    expect(answer.getCode()).toBe(status.UNAVAILABLE)
    expect(answer.getDetails()?.getTypeName()).toBe('event_store.client.Timeout')
  })

  it('packs an Unknown detail for anything else, which the client reads as UnknownError', () => {
    const answer = engineFailureStatus(new RangeError('too long'))
    expect(answer.getCode()).toBe(status.INTERNAL)
    expect(answer.getMessage()).toBe('too long')
    expect(answer.getDetails()?.getTypeName()).toBe('event_store.client.Unknown')
  })
})
