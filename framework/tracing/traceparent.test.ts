import { trace, TraceFlags } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { contextFromTraceparent, formatTraceparent } from './traceparent.ts'

const traceId = '0af7651916cd43dd8448eb211c80319c'
const spanId = 'b7ad6b7169203331'

describe('traceparent', () => {
  it('round-trips a sampled span context as a remote parent', () => {
    const value = formatTraceparent({ traceId, spanId, traceFlags: TraceFlags.SAMPLED })
    expect(value).toBe(`00-${traceId}-${spanId}-01`)
    expect(trace.getSpanContext(contextFromTraceparent(value))).toEqual({
      traceId,
      spanId,
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
    })
  })

  it('formats nothing for an invalid span context (no SDK)', () => {
    expect(
      formatTraceparent(
        trace
          .wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 })
          .spanContext(),
      ),
    ).toBeUndefined()
  })

  it.each([undefined, 42, 'garbage', `01-${traceId}-${spanId}-01`, `00-${'0'.repeat(32)}-${spanId}-01`])(
    'reads %s as no parent',
    (value) => {
      expect(trace.getSpanContext(contextFromTraceparent(value))).toBeUndefined()
    },
  )
})
