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
})
