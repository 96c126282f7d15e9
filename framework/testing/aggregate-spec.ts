import { AssertionError, deepStrictEqual } from 'node:assert'
import type { z } from 'zod'
import type { AggregateDefinition, EmittedEvent, EventMap } from '../aggregate/define-aggregate.ts'
import { checkEmittedEvents, type CheckedEvent } from '../command/check-emitted-events.ts'
import { commandDefinition, parseCommandInput } from '../command/validate-command.ts'

/** A command as a spec sends it: its name and its (unvalidated) input. */
export interface SpecCommand {
  readonly command: string
  readonly input: unknown
}

export interface AggregateSpecOptions {
  /** The aggregate id decide and evolve see. Default 'spec-1'. */
  readonly id?: string
  /** The decision time; fixed by default (2026-01-01T00:00:00Z) so specs are repeatable. */
  readonly now?: Date
}

/** The outcome of a `when`: assert on it; each assertion returns the outcome so they can be chained. */
export interface SpecOutcome<TState, TEvents extends EventMap> {
  /** Asserts the command is accepted and emits exactly these events, in order. */
  thenEmits(expected: readonly EmittedEvent<TEvents>[]): SpecOutcome<TState, TEvents>
  /** Asserts the command is accepted and emits nothing. */
  thenEmitsNothing(): SpecOutcome<TState, TEvents>
  /** Asserts the command is refused with this error code (a domain code, BAD_INPUT, INVALID_EVENT…). */
  thenThrows(code: string): SpecOutcome<TState, TEvents>
  /** Asserts the state after the emitted events: equal to a value, or checked by a function. */
  thenState(expected: TState | ((state: TState) => void)): SpecOutcome<TState, TEvents>
}

export interface SpecGiven<TState, TEvents extends EventMap, TCommands extends Record<string, z.ZodType>> {
  /** Sends one command to the aggregate as the given history left it. */
  when<K extends keyof TCommands & string>(
    command: K,
    input: z.input<TCommands[K]>,
  ): SpecOutcome<TState, TEvents>
  when(command: SpecCommand): SpecOutcome<TState, TEvents>
}

export interface AggregateSpec<
  TState,
  TEvents extends EventMap,
  TCommands extends Record<string, z.ZodType>,
> extends SpecGiven<TState, TEvents, TCommands> {
  /** The history the aggregate has, as `{ type, data }` events; each is checked against its schema. */
  given(events: readonly EmittedEvent<TEvents>[]): SpecGiven<TState, TEvents, TCommands>
}

type Decision =
  { kind: 'accepted'; events: CheckedEvent[]; state: unknown } | { kind: 'refused'; error: unknown }

/**
 * Given/when/then specifications of an aggregate, run synchronously through the same validation as the
 * command pipeline (input schema, decide, event schemas, evolve). Assertions throw node's AssertionError
 * with expected and actual values, so any test runner shows a diff.
 *
 * @example
 * const battery = aggregateSpec(Battery)
 * it('refuses to discharge an empty battery', () =>
 *   battery.given([installed, charged(0)]).when('startDischarging', { kw: 5 }).thenThrows('BATTERY_EMPTY'))
 */
export function aggregateSpec<
  TName extends string,
  TState,
  TEvents extends EventMap,
  TCommands extends Record<string, z.ZodType>,
>(
  aggregate: AggregateDefinition<TName, TState, TEvents, TCommands>,
  options: AggregateSpecOptions = {},
): AggregateSpec<TState, TEvents, TCommands> {
  const id = options.id ?? 'spec-1'
  const now = options.now ?? new Date('2026-01-01T00:00:00Z')

  function given(history: readonly EmittedEvent<TEvents>[]): SpecGiven<TState, TEvents, TCommands> {
    const when = (command: string | SpecCommand, input?: unknown) => {
      const sent = typeof command === 'string' ? { command, input } : command
      const decision = decide(history, sent)
      return outcome(sent, decision)
    }
    return { when } as SpecGiven<TState, TEvents, TCommands>
  }

  function decide(history: readonly unknown[], sent: SpecCommand): Decision {
    let state = aggregate.initial(id)
    for (const [index, event] of givenEvents(history).entries()) state = evolve(state, event, BigInt(index))
    try {
      const definition = commandDefinition(aggregate, sent.command)
      // A spec decides synchronously: a schema with an async refinement is tested through a bus instead.
      const input = parseCommandInput(aggregate, sent.command, definition.input, sent.input)
      const revision = BigInt(history.length - 1)
      const decided = definition.decide(state, input, { id, revision, commandId: 'spec-command', now })
      const events = checkEmittedEvents(aggregate, decided)
      events.forEach((event, index) => {
        state = evolve(state, event, revision + 1n + BigInt(index))
      })
      return { kind: 'accepted', events, state }
    } catch (error) {
      return { kind: 'refused', error }
    }
  }

  function givenEvents(history: readonly unknown[]): CheckedEvent[] {
    try {
      return checkEmittedEvents(aggregate, history)
    } catch (error) {
      throw new Error(
        `given() holds an event ${aggregate.name} would not accept: ${(error as Error).message}`,
      )
    }
  }

  function evolve(state: TState, event: CheckedEvent, revision: bigint): TState {
    const domainEvent = event as Parameters<typeof aggregate.apply>[1]
    return aggregate.apply(state, domainEvent, { id, revision, createdAt: now })
  }

  function outcome(sent: SpecCommand, decision: Decision): SpecOutcome<TState, TEvents> {
    const what = `when('${sent.command}', ${JSON.stringify(sent.input)})`
    const accepted = (): Extract<Decision, { kind: 'accepted' }> => {
      if (decision.kind === 'accepted') return decision
      const { error } = decision
      const code = codeOf(error) ?? 'an error without a code'
      const message = `${what} was expected to be accepted but threw ${code}: ${String(error)}`
      throw new AssertionError({ message, actual: error, expected: 'no error' })
    }
    const self: SpecOutcome<TState, TEvents> = {
      thenEmits(expected) {
        const actual = accepted().events
        deepStrictEqual(actual, plain(expected), `${what} emitted other events than expected`)
        return self
      },
      thenEmitsNothing() {
        deepStrictEqual(accepted().events, [], `${what} was expected to emit nothing`)
        return self
      },
      thenThrows(code) {
        if (decision.kind === 'accepted') {
          const message = `${what} was expected to throw ${code} but emitted ${JSON.stringify(decision.events)}`
          throw new AssertionError({ message, actual: decision.events, expected: code })
        }
        const actual = codeOf(decision.error)
        if (actual !== code) {
          const message = `${what} was expected to throw ${code} but threw ${String(actual)}: ${String(decision.error)}`
          throw new AssertionError({ message, actual, expected: code })
        }
        return self
      },
      thenState(expected) {
        const { state } = accepted()
        if (typeof expected === 'function') (expected as (state: TState) => void)(state as TState)
        else deepStrictEqual(state, expected, `${what} left another state than expected`)
        return self
      },
    }
    return self
  }

  const start = given([])
  return { given, when: start.when.bind(start) }
}

function codeOf(error: unknown): string | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === 'string' ? code : undefined
}

/** Strips readonly-ness and prototypes so expected events compare by value with the emitted ones. */
function plain(events: readonly { type: string; data: unknown }[]): CheckedEvent[] {
  return events.map((event) => ({ type: event.type, data: event.data }))
}
