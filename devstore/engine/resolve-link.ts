/**
 * Links: an event of type `$>` whose data is "{revision}@{stream}". Resolving one follows it to its target,
 * if the target exists and a read of its stream would show it.
 */
import type { StoredEvent } from './engine.ts'
import type { ReadContext } from './read-context.ts'
import { readStream } from './read-stream.ts'

export const LINK_TYPE = '$>'

export function resolveLink(context: ReadContext, link: StoredEvent): StoredEvent | undefined {
  if (link.type !== LINK_TYPE) return undefined
  const text = Buffer.from(link.data.buffer, link.data.byteOffset, link.data.byteLength).toString('utf8')
  const at = text.indexOf('@')
  const revisionText = text.slice(0, at)
  if (at <= 0 || !/^\d+$/.test(revisionText)) return undefined
  const revision = BigInt(revisionText)
  const read = readStream(context, text.slice(at + 1), {
    direction: 'forwards',
    fromRevision: revision,
    maxCount: 1,
  })
  if (read.kind !== 'ok') return undefined
  for (const event of read.events) return event.revision === revision ? event : undefined
  return undefined
}
