import { AssertionError } from 'node:assert'
import { describe, expect, it } from 'vitest'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { aggregateSpec } from './aggregate-spec.ts'

const counter = aggregateSpec(counterAggregate())
const incremented = (by: number) => ({ type: 'Incremented' as const, data: { by } })
const locked = { type: 'Locked' as const, data: { reason: 'audit' } }

describe('aggregateSpec', () => {
  it('passes when the command emits the expected events', () => {
    counter
      .given([incremented(2)])
      .when('increment', { by: 3 })
      .thenEmits([incremented(3)])
  })

  it('passes when the state after the command is the expected one, by value or by a check', () => {
    counter
      .given([incremented(2)])
      .when('increment', { by: 3 })
      .thenState({ value: 5, locked: false, steps: 2 })
      .thenState((state) => expect(state.value).toBe(5))
  })

  it('takes a command object as conventions.md writes it', () => {
    const increment = (input: { by: number }) => ({ command: 'increment', input })
    counter.when(increment({ by: 1 })).thenEmits([incremented(1)])
  })

  it('passes when the command is refused with the expected domain code', () => {
    counter.given([locked]).when('increment', { by: 1 }).thenThrows('COUNTER_LOCKED')
  })

  it('refuses bad input with BAD_INPUT and events that fail their schema with INVALID_EVENT', () => {
    counter.when('increment', { by: -1 }).thenThrows('BAD_INPUT')
    counter.when('lock', { reason: '' }).thenThrows('INVALID_EVENT')
  })

  it('passes when a command emits nothing', () => {
    counter.when('noteNothing', {}).thenEmitsNothing()
  })

  it('fails with an AssertionError showing both sides when other events are emitted', () => {
    const failing = () => counter.when('increment', { by: 3 }).thenEmits([incremented(4)])
    expect(failing).toThrow(AssertionError)
    expect(failing).toThrow(/emitted other events than expected/)
  })

  it('fails naming the actual error when a refusal was not expected', () => {
    const failing = () =>
      counter
        .given([locked])
        .when('increment', { by: 1 })
        .thenEmits([incremented(1)])
    expect(failing).toThrow(/expected to be accepted but threw COUNTER_LOCKED/)
  })

  it('fails naming the events when an expected refusal does not come', () => {
    const failing = () => counter.when('increment', { by: 1 }).thenThrows('COUNTER_LOCKED')
    expect(failing).toThrow(/expected to throw COUNTER_LOCKED but emitted/)
  })

  it('fails naming both codes when the command is refused with another code', () => {
    const failing = () => counter.given([locked]).when('increment', { by: 0 }).thenThrows('COUNTER_LOCKED')
    expect(failing).toThrow(/expected to throw COUNTER_LOCKED but threw BAD_INPUT/)
  })

  it('refuses a given history that the aggregate would not accept', () => {
    const failing = () => counter.given([incremented(1.5)]).when('increment', { by: 1 })
    expect(failing).toThrow(/given\(\) holds an event Counter would not accept/)
  })

  it('fails with an AssertionError when the state differs', () => {
    const failing = () =>
      counter.when('increment', { by: 1 }).thenState({ value: 2, locked: false, steps: 1 })
    expect(failing).toThrow(AssertionError)
  })
})
