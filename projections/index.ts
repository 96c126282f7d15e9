// The public API of 'annals/projections': the read side. Named re-exports only.
export type { ReadModelSource, RowChange, ProjectionStatus } from '../framework/index.ts'
