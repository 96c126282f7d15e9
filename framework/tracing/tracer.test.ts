import { trace } from '@opentelemetry/api'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, describe, expect, it } from 'vitest'
import { createCommandBus } from '../command/create-command-bus.ts'
import { createInMemoryEventStore } from '../event-store/in-memory-event-store.ts'
import { counterAggregate } from '../../test/support/counter.fixture.ts'
import { bypassTracing, tracingBypassed, tracingEnabled } from './tracer.ts'

describe('bypassTracing, the baseline of the tracing-cost bench (an SDK in this process)', () => {
  afterAll(() => trace.disable())

  it('starts no span for a command even with an SDK registered, and tells the gateway to leave its hooks out', async () => {
    const exporter = new InMemorySpanExporter()
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    )
    expect(tracingEnabled()).toBe(true)
    bypassTracing()
    expect(tracingBypassed).toBe(true)
    const bus = createCommandBus({ store: createInMemoryEventStore(), aggregates: [counterAggregate()] })
    await bus.execute({ aggregate: 'Counter', command: 'increment', aggregateId: 'c', input: { by: 1 } })
    bus.close()
    expect(exporter.getFinishedSpans()).toEqual([])
  })
})
