// The public API of 'annals/testing/read-side': specifications of projections and workflows, and the clock workflows run on.

// Projections
/** Given/then specifications of a projection: given events, then these rows. */
export {
  projectionSpec,
  type ProjectionSpec,
  type ProjectionSpecOutcome,
  type ProjectionSpecOptions,
} from './projection-spec.ts'

// Workflows
/** Given/when/then specifications of a workflow: given events, when time passes to T, then these commands were sent. */
export {
  workflowSpec,
  type WorkflowSpec,
  type WorkflowSpecGiven,
  type WorkflowSpecOutcome,
  type WorkflowSpecOptions,
  type SpecEvent,
  type SentCommand,
} from './workflow-spec.ts'
/** A clock a test moves by hand, for createReadSide's `clock`: timers fire without sleeping. */
export { createTestClock, type TestClock } from '../workflows/test-clock.ts'
