import { z } from 'zod'
import { defineProjection } from 'annals/projections'
import { Dispatch } from '../domain/dispatch.ts'

/** One row per dispatch: where it stands, what the fleet gave, and by when it had to be done. */
export const DispatchStatusRow = z.object({
  dispatchId: z.string(),
  status: z.enum(['requested', 'fulfilled', 'partly-fulfilled', 'failed']),
  requestedKw: z.number(),
  allocatedKw: z.number(),
  batteries: z.number().int().describe('Batteries allocated to it.'),
  deadlineAt: z.date().exactOptional().describe('Not completed by then, it fails.'),
  failureReason: z.string().exactOptional(),
  updatedAt: z.date(),
})
export type DispatchStatusRow = z.infer<typeof DispatchStatusRow>

export const dispatchStatus = defineProjection({
  name: 'dispatchStatus',
  description: 'Each dispatch as it is now.',
  row: DispatchStatusRow,
  key: 'dispatchId',
  from: [Dispatch],
  indexes: ['status'],
  handlers: {
    DispatchRequested: (_row, { data }, { key, createdAt }) => ({
      dispatchId: key,
      status: 'requested',
      requestedKw: data.powerKw,
      allocatedKw: 0,
      batteries: 0,
      ...(data.deadlineSeconds === undefined
        ? {}
        : { deadlineAt: new Date(createdAt.getTime() + data.deadlineSeconds * 1000) }),
      updatedAt: createdAt,
    }),
    BatteryAllocated: (row, { data }, { createdAt }) =>
      row && {
        ...row,
        allocatedKw: row.allocatedKw + data.powerKw,
        batteries: row.batteries + 1,
        updatedAt: createdAt,
      },
    DispatchCompleted: (row, { data }, { createdAt }) =>
      row && { ...row, status: data.outcome, updatedAt: createdAt },
    DispatchFailed: (row, { data }, { createdAt }) =>
      row && { ...row, status: 'failed', failureReason: data.reason, updatedAt: createdAt },
  },
})
