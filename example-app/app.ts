import { createReadSide } from 'annals/projections'
import { Battery } from './domain/battery.ts'
import { Dispatch } from './domain/dispatch.ts'
import { dispatcher } from './reactors/dispatcher.ts'
import { batteryHistory } from './read-models/battery-history.ts'
import { batteryStatus } from './read-models/battery-status.ts'
import { fleetBySite } from './read-models/fleet-by-site.ts'

/** The virtual power plant, as createServer takes it: everything the service is made of. */
export const app = {
  aggregates: [Battery, Dispatch],
  readSide: createReadSide({
    projections: [batteryStatus, fleetBySite, batteryHistory],
    reactors: [dispatcher],
  }),
}
