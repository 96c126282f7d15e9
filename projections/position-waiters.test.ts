import { describe, expect, it } from 'vitest'
import { createPositionWaiters } from './position-waiters.ts'

/** A model at `position` whose waiters are ready while `ready` is set, counting how often it is asked. */
function model(position: bigint, ready = true) {
  const state = { position, ready, asked: 0 }
  const options = (timeoutMs = 5_000) => ({
    timeoutMs,
    reached: () => state.position,
    ready: () => {
      state.asked++
      return state.ready
    },
  })
  return { state, options }
}

describe('position waiters', () => {
  it('resolve at once when the target is reached and ready', async () => {
    const waiters = createPositionWaiters()
    await waiters.wait(10n, model(10n).options())
    expect(waiters.size).toBe(0)
  })

  it('resolve once notify reports the target and the waiter is ready', async () => {
    const waiters = createPositionWaiters()
    const { state, options } = model(5n)
    const waiting = waiters.wait(10n, options())
    waiters.notify(9n)
    expect(waiters.size).toBe(1)
    state.position = 10n
    waiters.notify(10n)
    await waiting
    expect(waiters.size).toBe(0)
  })

  it('check a waiter past its target but not ready again only on a release', async () => {
    const waiters = createPositionWaiters()
    const { state, options } = model(5n, false)
    const waiting = waiters.wait(10n, options())
    state.position = 10n
    waiters.notify(10n)
    const asked = state.asked
    for (let position = 11n; position < 100n; position++) waiters.notify(position)
    expect(state.asked).toBe(asked)
    state.ready = true
    waiters.notify(100n, true)
    await waiting
    expect(waiters.size).toBe(0)
  })

  it('time out with CONSISTENCY_TIMEOUT, naming the position reached, and forget the waiter', async () => {
    const waiters = createPositionWaiters()
    const { state, options } = model(5n, false)
    const waiting = waiters.wait(10n, options(20))
    state.position = 12n
    waiters.notify(12n)
    await expect(waiting).rejects.toMatchObject({ code: 'CONSISTENCY_TIMEOUT', target: 10n, reached: 12n })
    expect(waiters.size).toBe(0)
  })

  // A guard, not a benchmark: removing each timed-out waiter by filtering the list costs n²/2 copies (about 30 s here
  // for 20,000 waiters, past 100 s for 50,000); leaving in constant time takes a few seconds.
  it('let 50,000 waiters time out together, each leaving in constant time', async () => {
    const waiters = createPositionWaiters()
    const { options } = model(0n)
    // Node keeps timers of one duration in one list: they fire together, in order, each in constant time.
    const outcomes = Array.from({ length: 50_000 }, (_, i) =>
      waiters.wait(BigInt(i + 1), options(50)).catch((error: unknown) => error),
    )
    const errors = await Promise.all(outcomes)
    expect({ size: waiters.size, codes: new Set(errors.map((e) => (e as { code: string }).code)) }).toEqual({
      size: 0,
      codes: new Set(['CONSISTENCY_TIMEOUT']),
    })
  }, 30_000)
})
