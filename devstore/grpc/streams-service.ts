/**
 * The Streams service: Read (reads and catch-up subscriptions), Append, BatchAppend, Delete, Tombstone.
 */
import { createAppendHandler } from './append.ts'
import { createBatchAppendHandler } from './batch-append.ts'
import { createDeleteHandler } from './delete.ts'
import { StreamsService } from './protocol.ts'
import { createReadHandler } from './read.ts'
import type { DevStoreService, ServiceContext } from './server.ts'

export function createStreamsService(context: ServiceContext): DevStoreService {
  return {
    definition: StreamsService,
    implementation: {
      read: createReadHandler(context),
      append: createAppendHandler(context),
      batchAppend: createBatchAppendHandler(context),
      delete: createDeleteHandler(context, 'delete'),
      tombstone: createDeleteHandler(context, 'tombstone'),
    },
  }
}
