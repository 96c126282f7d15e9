import { z } from 'zod'
import { DomainError, defineAggregate, versionedEvent } from 'annals'

/** A grid operator's request for power from a site or a region, and what the fleet delivered. */
export const DispatchOutcome = z.enum(['fulfilled', 'partly-fulfilled'])
export type DispatchOutcome = z.infer<typeof DispatchOutcome>

export const Dispatch = defineAggregate({
  name: 'Dispatch',
  description: 'A request for power from the fleet for a while, and the batteries that answered it.',
  state: z.object({
    status: z.enum(['none', 'requested', 'fulfilled', 'partly-fulfilled', 'failed']),
    requestedKw: z.number(),
    allocatedKw: z.number(),
    batteryIds: z.array(z.string()).readonly(),
  }),
  initialState: { status: 'none', requestedKw: 0, allocatedKw: 0, batteryIds: [] },
  events: {
    // Version 2 added the optional deadline; a version-1 event reads as one without it.
    DispatchRequested: versionedEvent(
      z.object({
        siteId: z.string().exactOptional(),
        region: z.string().exactOptional(),
        powerKw: z.number(),
        durationMinutes: z.number(),
        deadlineSeconds: z.number().exactOptional(),
      }),
      { version: 2, upcasters: { 1: (v1: object) => v1 } },
    ),
    BatteryAllocated: z.object({ batteryId: z.string(), powerKw: z.number() }),
    DispatchCompleted: z.object({
      outcome: DispatchOutcome,
      requestedKw: z.number(),
      allocatedKw: z.number(),
    }),
    DispatchFailed: z.object({ reason: z.string(), releasedBatteryIds: z.array(z.string()).readonly() }),
  },
  commands: {
    requestDispatch: {
      description: 'Asks the fleet of a site or of a region for power for a number of minutes.',
      input: z
        .object({
          siteId: z.string().min(1).exactOptional().describe('Ask only the batteries of this site.'),
          region: z
            .string()
            .min(1)
            .exactOptional()
            .describe('Ask the batteries of every site in this region.'),
          powerKw: z.number().positive().describe('The power wanted, in kW.'),
          durationMinutes: z
            .number()
            .int()
            .positive()
            .max(24 * 60)
            .describe('For how long, in minutes.'),
          deadlineSeconds: z
            .number()
            .int()
            .positive()
            .max(24 * 60 * 60)
            .exactOptional()
            .describe(
              'Not completed within this many seconds, the dispatch fails and its batteries are released.',
            ),
        })
        .refine((input) => (input.siteId === undefined) !== (input.region === undefined), {
          message: 'Give either a siteId or a region',
          path: ['siteId'],
        }),
      decide: (state, input) => {
        if (state.status !== 'none')
          throw new DomainError('DISPATCH_ALREADY_REQUESTED', 'This dispatch exists already')
        return { type: 'DispatchRequested', data: input }
      },
    },
    allocateBattery: {
      description: 'Records that a battery discharges for this dispatch.',
      // Sent by the dispatcher reactor alone: a client could otherwise fake an allocation.
      internal: true,
      input: z.object({ batteryId: z.string().min(1), powerKw: z.number().positive() }),
      decide: (state, input) => {
        mustBeOpen(state.status)
        if (state.batteryIds.includes(input.batteryId)) {
          throw new DomainError(
            'BATTERY_ALREADY_ALLOCATED',
            `Battery ${input.batteryId} already answers this dispatch`,
          )
        }
        return { type: 'BatteryAllocated', data: input }
      },
    },
    completeDispatch: {
      description: 'Closes the dispatch with what the fleet delivered.',
      internal: true,
      input: z.object({}),
      decide: (state) => {
        mustBeOpen(state.status)
        const outcome: DispatchOutcome =
          state.allocatedKw >= state.requestedKw ? 'fulfilled' : 'partly-fulfilled'
        return {
          type: 'DispatchCompleted',
          data: { outcome, requestedKw: state.requestedKw, allocatedKw: state.allocatedKw },
        }
      },
    },
    failDispatch: {
      description: 'Closes the dispatch as failed, naming the batteries released from it.',
      input: z.object({ reason: z.string().min(1) }),
      decide: (state, { reason }) => {
        mustBeOpen(state.status)
        return { type: 'DispatchFailed', data: { reason, releasedBatteryIds: state.batteryIds } }
      },
    },
  },
  evolve: {
    DispatchRequested: (state, { powerKw }) => ({ ...state, status: 'requested', requestedKw: powerKw }),
    BatteryAllocated: (state, { batteryId, powerKw }) => ({
      ...state,
      allocatedKw: state.allocatedKw + powerKw,
      batteryIds: [...state.batteryIds, batteryId],
    }),
    DispatchCompleted: (state, { outcome }) => ({ ...state, status: outcome }),
    DispatchFailed: (state) => ({ ...state, status: 'failed' }),
  },
})

function mustBeOpen(status: string): void {
  if (status === 'none') throw new DomainError('DISPATCH_NOT_REQUESTED', 'No such dispatch was requested')
  if (status !== 'requested') throw new DomainError('DISPATCH_CLOSED', 'The dispatch is already complete')
}
