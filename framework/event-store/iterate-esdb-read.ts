import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { StreamingRead } from '@eventstore/db-client'

/**
 * Iterates a client read. A consumer that stops early must not just destroy the client's stream: the gRPC
 * call under it would stay registered with the client, unread, and `client.dispose()` would wait for it
 * forever. So the read is cancelled and drained instead, which ends the call either way. A consumer that stops
 * once it has the `maxCount` items the read asked for (a stream's last event, read backwards one) leaves a
 * call the server is ending anyway: it is read to its end instead, for a cancel is an RST_STREAM, and servers
 * close a connection that sends a burst of them (nghttp2, under the devstore, past 1,000 at 33/s: its defence
 * against rapid-reset floods), failing every call on it.
 */
export async function* iterateEsdbRead<T>(
  read: StreamingRead<T>,
  maxCount?: number | bigint,
): AsyncGenerator<T, void, undefined> {
  let completed = false
  let yielded = 0
  try {
    for await (const item of read.iterator({ destroyOnReturn: false }) as AsyncIterable<T>) {
      yielded++
      yield item
    }
    completed = true
  } finally {
    if (!completed && !read.destroyed) {
      read.resume()
      if (maxCount !== undefined && yielded >= Number(maxCount))
        await finished(read as Readable).catch(() => {})
      else await read.cancel()
    }
  }
}
