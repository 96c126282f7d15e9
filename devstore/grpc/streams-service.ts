/**
 * The Streams service: Read (reads and catch-up subscriptions), Append, BatchAppend, Delete, Tombstone.
 * BatchAppend's requests are read straight from their bytes (decode-batch-append-request.ts) rather than
 * by the generated google-protobuf deserializer: every append at high concurrency is one such request.
 */
import type { ServiceDefinition } from '@grpc/grpc-js'
import { createAppendHandler } from './append.ts'
import { createBatchAppendHandler } from './batch-append.ts'
import { receiveBatchAppendRequest } from './decode-batch-append-request.ts'
import { createDeleteHandler } from './delete.ts'
import { StreamsService } from './protocol.ts'
import { createReadHandler } from './read.ts'
import type { DevStoreService, ServiceContext } from './service-context.ts'

/** The generated definition, with BatchAppend's requests deserialized to plain data. */
export const servedStreamsService: ServiceDefinition = {
  ...StreamsService,
  batchAppend: { ...StreamsService.batchAppend, requestDeserialize: receiveBatchAppendRequest },
}

export function createStreamsService(context: ServiceContext): DevStoreService {
  return {
    definition: servedStreamsService,
    implementation: {
      read: createReadHandler(context),
      append: createAppendHandler(context),
      batchAppend: createBatchAppendHandler(context),
      delete: createDeleteHandler(context, 'delete'),
      tombstone: createDeleteHandler(context, 'tombstone'),
    },
  }
}
