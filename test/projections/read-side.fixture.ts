import type { CommandBus } from '../../framework/command/command-bus.ts'
import type { EventStore } from '../../framework/event-store/event-store.ts'
import type { ReadSideContext } from '../../framework/read-model/read-side.ts'
import {
  createReadSide,
  type ProjectionReadSide,
  type ReadSideOptions,
} from '../../projections/create-read-side.ts'
import { createTestCommandBus } from './event-store-fixtures.ts'

/** Creates (not starts) a read side over `store`, as createServer would, with a test command bus by default. */
export function openReadSide(
  store: EventStore,
  options: ReadSideOptions & { readonly commands?: CommandBus } & Partial<ReadSideContext>,
): Promise<ProjectionReadSide> {
  const { commands, ownsPartition, log, env, replica, ...declared } = options
  return createReadSide(declared).create({
    store,
    commands: commands ?? createTestCommandBus(store),
    env: env ?? {},
    ...(ownsPartition ? { ownsPartition } : {}),
    ...(log ? { log } : {}),
    ...(replica ? { replica } : {}),
  })
}
