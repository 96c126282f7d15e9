import Fastify from 'fastify'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { traceLogFields } from './trace-log-fields.ts'

describe('traceLogFields as the mixin of the server logger, with no SDK', () => {
  it("writes lines with merge objects, none of one line's fields leaking into the next", async () => {
    const lines: Record<string, unknown>[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>)
        done()
      },
    })
    // pino merges each line's object into what the mixin returns: a shared or frozen object would throw or leak.
    const app = Fastify({ logger: { level: 'info', mixin: traceLogFields, stream } })
    app.log.info({ store: 'devstore' }, 'first')
    app.log.info('second')
    await app.close()
    expect(lines.map(({ msg, store }) => ({ msg, store }))).toEqual([
      { msg: 'first', store: 'devstore' },
      { msg: 'second', store: undefined },
    ])
  })
})
