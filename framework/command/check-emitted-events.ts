import type { z } from 'zod'
import type { AnyAggregate, EventMap } from '../aggregate/define-aggregate.ts'
import { isVersionedEvent } from '../aggregate/versioned-event.ts'
import { AnnalsError } from '../errors.ts'

/** An event as decide emitted it, after its schema parsed it: what is appended and evolved. */
export interface CheckedEvent {
  readonly type: string
  readonly data: unknown
}

/**
 * Checks what a decide function returned (one event or a list) against the aggregate's event schemas and
 * returns the parsed events; an undeclared type or data that fails its schema is INVALID_EVENT, a bug in
 * the decide function rather than in the caller's input.
 */
export function checkEmittedEvents(aggregate: AnyAggregate, decided: unknown): CheckedEvent[] {
  if (!Array.isArray(decided)) return [checkEvent(aggregate, decided)]
  return (decided as readonly unknown[]).map((event) => checkEvent(aggregate, event))
}

function checkEvent(aggregate: AnyAggregate, event: unknown): CheckedEvent {
  const type = typeof event === 'object' && event !== null ? (event as { type?: unknown }).type : undefined
  const declarations = aggregate.events as EventMap
  const declaration =
    typeof type === 'string' && Object.hasOwn(declarations, type) ? declarations[type] : undefined
  if (typeof type !== 'string' || !declaration) {
    throw new AnnalsError('INVALID_EVENT', `${aggregate.name} declares no event ${String(type)}`, {
      details: { eventType: String(type) },
    })
  }
  const schema: z.ZodType = isVersionedEvent(declaration) ? declaration.schema : declaration
  const parsed = schema.safeParse((event as { data?: unknown }).data)
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new AnnalsError('INVALID_EVENT', `${aggregate.name} emitted an invalid ${type}: ${where}`, {
      details: { eventType: type, issues: parsed.error.issues.map((i) => i.message) },
    })
  }
  return { type, data: parsed.data }
}
