import { context, trace } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { defineAggregate } from '../aggregate/define-aggregate.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { traceLogFields } from '../tracing/trace-log-fields.ts'
import { TRACEPARENT_KEY } from '../tracing/traceparent.ts'
import { createCommandBus } from './create-command-bus.ts'

const Counter = defineAggregate({
  name: 'Counter',
  state: z.object({ value: z.number() }),
  initialState: { value: 0 },
  commands: {
    increment: {
      input: z.object({ by: z.number() }),
      decide: (_state, { by }) => [{ type: 'Incremented', data: { by } }],
    },
  },
  events: { Incremented: z.object({ by: z.number() }) },
  evolve: { Incremented: (state, { by }) => ({ value: state.value + by }) },
})

async function incrementAndRead(id: string) {
  const store = createInMemoryEventStore()
  const bus = createCommandBus({ store, aggregates: [Counter] })
  const result = await bus.execute({
    aggregate: 'Counter',
    command: 'increment',
    aggregateId: id,
    input: { by: 1 },
  })
  const events = []
  for await (const event of store.readStream(`Counter-${id}`)) events.push(event)
  bus.close()
  return { result, events }
}

describe('tracing without an SDK', () => {
  it('stores no traceparent and logs no trace ids', async () => {
    const { events } = await incrementAndRead('c-1')
    expect(Object.keys(events[0]!.metadata)).not.toContain(TRACEPARENT_KEY)
    expect(traceLogFields()).toEqual({})
  })
})

describe('tracing with an SDK (an in-memory exporter in this process)', () => {
  const exporter = new InMemorySpanExporter()
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
  })
  afterAll(() => {
    trace.disable()
    context.disable()
  })

  it("stores the command span's traceparent in each event and parents the append to the command", async () => {
    const { events } = await incrementAndRead('c-2')
    const spans = exporter.getFinishedSpans()
    const command = spans.find((span) => span.name === 'command Counter.increment')!
    const append = spans.find((span) => span.name === 'append')!
    const { traceId, spanId } = command.spanContext()
    expect(events[0]!.metadata[TRACEPARENT_KEY]).toBe(`00-${traceId}-${spanId}-01`)
    expect(append.parentSpanContext?.spanId).toBe(spanId)
    expect(append.attributes).toMatchObject({ 'annals.stream': 'Counter-c-2', 'annals.revision': '0' })
    expect(command.attributes).toMatchObject({ 'annals.aggregate_id': 'c-2', 'annals.command': 'increment' })
  })

  it('continues the active trace and names it in log lines written under it', async () => {
    const tracer = trace.getTracer('test')
    const outer = tracer.startSpan('request')
    const active = trace.setSpan(context.active(), outer)
    const fields = context.with(active, traceLogFields)
    expect(fields).toEqual({ trace_id: outer.spanContext().traceId, span_id: outer.spanContext().spanId })
    await context.with(active, () => incrementAndRead('c-3'))
    outer.end()
    const command = exporter
      .getFinishedSpans()
      .find((span) => span.attributes['annals.aggregate_id'] === 'c-3')!
    expect(command.parentSpanContext?.spanId).toBe(outer.spanContext().spanId)
  })
})
