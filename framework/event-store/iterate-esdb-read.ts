import type { StreamingRead } from '@eventstore/db-client'

/**
 * Iterates a client read. A consumer that stops early must not just destroy the client's stream: the gRPC
 * call under it would stay registered with the client, unread, and `client.dispose()` would wait for it
 * forever. So the read is cancelled and drained instead, which ends the call either way.
 */
export async function* iterateEsdbRead<T>(read: StreamingRead<T>): AsyncGenerator<T, void, undefined> {
  let completed = false
  try {
    for await (const item of read.iterator({ destroyOnReturn: false }) as AsyncIterable<T>) yield item
    completed = true
  } finally {
    if (!completed && !read.destroyed) {
      read.resume()
      await read.cancel()
    }
  }
}
