import { z } from 'zod'
import { DomainError } from '../../framework/errors.ts'
import { defineAggregate } from '../../framework/aggregate/define-aggregate.ts'
import { versionedEvent } from '../../framework/aggregate/versioned-event.ts'

/** A small aggregate for the framework's own tests: a counter that can be locked. */
export function counterAggregate(options: { snapshotEvery?: number } = {}) {
  return defineAggregate({
    name: 'Counter',
    state: z.object({ value: z.number(), locked: z.boolean(), steps: z.number() }),
    initialState: { value: 0, locked: false, steps: 0 },
    events: {
      // Version 1 stored `amount`; version 2 calls it `by`.
      Incremented: versionedEvent(z.object({ by: z.number().int() }), {
        version: 2,
        upcasters: { 1: (v1: { amount: number }) => ({ by: v1.amount }) },
      }),
      Locked: z.object({ reason: z.string().min(1) }),
      Noted: z.object({ text: z.string() }),
    },
    commands: {
      increment: {
        input: z.object({ by: z.number().int().positive() }),
        decide: (state, { by }) => {
          if (state.locked) throw new DomainError('COUNTER_LOCKED', 'The counter is locked')
          return { type: 'Incremented', data: { by } }
        },
      },
      incrementTwice: {
        input: z.object({ by: z.number().int().positive() }),
        decide: (_state, { by }) => [
          { type: 'Incremented', data: { by } },
          { type: 'Incremented', data: { by } },
        ],
      },
      lock: {
        input: z.object({ reason: z.string() }),
        decide: (_state, { reason }) => ({ type: 'Locked', data: { reason } }),
      },
      noteNothing: { input: z.object({}), decide: () => [] },
    },
    evolve: {
      Incremented: (state, { by }) => ({ ...state, value: state.value + by, steps: state.steps + 1 }),
      Locked: (state) => ({ ...state, locked: true, steps: state.steps + 1 }),
      Noted: (state) => ({ ...state, steps: state.steps + 1 }),
    },
    snapshotEvery: options.snapshotEvery ?? 0,
  })
}
