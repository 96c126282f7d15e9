// What annals/projections shares with the framework without it being API: this module is in no entry of
// package.json's exports, and the import rules (.dependency-cruiser.cjs) let projections/ reach the framework
// only through it and framework/index.ts.

/** The one back-off of every retry loop, and the abortable wait between tries. */
export { passesByItself, pause, retryDelay, type RetryPolicy } from './retry.ts'
/** How a zod schema is read for the GraphQL types and the PostgreSQL columns alike. */
export { defOf, inspectZod } from './graphql/schema/inspect-zod.ts'
/** The span of a projection's fold or a reactor's reaction, continuing the trace of the command that appended the event. */
export { startEventSpan } from './tracing/start-event-span.ts'
export { spanAttributes } from './tracing/tracer.ts'
/** How every spec appends its given history: as the bus would, at the version the aggregate declares. */
export { appendSpecEvent, SPEC_START, type SpecEvent } from './testing/spec-history.ts'
/** The aggregate of scheduled commands, which the read side's scheduled-commands workflow reads and fires. */
export {
  SCHEDULED_COMMAND,
  scheduledCommandAggregate,
  type ScheduledTarget,
} from './schedule/scheduled-command-aggregate.ts'
