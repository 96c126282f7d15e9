import { createReadSide } from 'annals/projections'
import { Battery } from './domain/battery.ts'
import { Dispatch } from './domain/dispatch.ts'
import { dispatcher } from './reactors/dispatcher.ts'
import { batteryHistory } from './read-models/battery-history.ts'
import { batteryStatus } from './read-models/battery-status.ts'
import { fleetBySite } from './read-models/fleet-by-site.ts'

/** The read side of the plant: its read models and the reactor that answers the grid. */
export const readModels = {
  projections: [batteryStatus, fleetBySite, batteryHistory],
  reactors: [dispatcher],
}

/** The virtual power plant, as createServer takes it: everything the service is made of. */
export const app = {
  aggregates: [Battery, Dispatch],
  // Where the read models live: DATABASE_URL (PostgreSQL, shared by replicas), else memory.
  readSide: createReadSide(readModels),
}
