import { createReadSide } from 'annals/projections'
import { Battery } from './domain/battery.ts'
import { Dispatch } from './domain/dispatch.ts'
import { dispatcher } from './reactors/dispatcher.ts'
import { batteryHistory } from './read-models/battery-history.ts'
import { batteryStatus } from './read-models/battery-status.ts'
import { dispatchStatus } from './read-models/dispatch-status.ts'
import { fleetBySite } from './read-models/fleet-by-site.ts'
import { batteryHeartbeat, DEFAULT_OFFLINE_AFTER_MS } from './workflows/battery-heartbeat.ts'
import { dispatchDeadline } from './workflows/dispatch-deadline.ts'

// How long a battery may stay silent before it is marked offline: PLANT_OFFLINE_AFTER_MS, else five minutes.
const offlineAfterMs = Number(process.env['PLANT_OFFLINE_AFTER_MS'] ?? DEFAULT_OFFLINE_AFTER_MS)
if (!Number.isInteger(offlineAfterMs) || offlineAfterMs <= 0) {
  throw new Error('PLANT_OFFLINE_AFTER_MS must be a positive whole number of milliseconds')
}

/** The read side of the plant: its read models, the reactor that answers the grid, and its workflows. */
export const readModels = {
  projections: [batteryStatus, fleetBySite, batteryHistory, dispatchStatus],
  reactors: [dispatcher],
  workflows: [batteryHeartbeat(offlineAfterMs), dispatchDeadline],
  // scheduleStartCharging(id, input, at: "…T18:00:00Z") and the other schedule<Command> mutations.
  scheduledCommands: true,
}

/** The virtual power plant, as createServer takes it: everything the service is made of. */
export const app = {
  aggregates: [Battery, Dispatch],
  // Where the read models live: DATABASE_URL (PostgreSQL, shared by replicas), else memory.
  readSide: createReadSide(readModels),
}
