import { ProxyTracerProvider, trace, type Tracer } from '@opentelemetry/api'

/** The attribute names Annals puts on its spans. */
export const spanAttributes = {
  aggregate: 'annals.aggregate',
  aggregateId: 'annals.aggregate_id',
  command: 'annals.command',
  commandId: 'annals.command_id',
  owner: 'annals.owner',
  forwardedFrom: 'annals.forwarded_from',
  stream: 'annals.stream',
  revision: 'annals.revision',
  events: 'annals.events',
  projection: 'annals.projection',
  reactor: 'annals.reactor',
  position: 'annals.position',
  eventType: 'annals.event_type',
  feed: 'annals.feed',
  operation: 'graphql.operation.type',
  operationName: 'graphql.operation.name',
} as const

/**
 * The tracer Annals' spans come from: the global provider's, so an application that registers the
 * OpenTelemetry SDK gets them, and one that registers nothing gets the API's no-op tracer.
 */
export const tracer: Tracer = trace.getTracer('annals')

/**
 * Whether an SDK is registered: code that would parse or allocate only to start a span checks this first,
 * so a service without tracing pays one property read. (A binding that bypassTracing replaces.)
 */
export let tracingEnabled = (): boolean => {
  const provider = trace.getTracerProvider()
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('annals') !== undefined
}

/** Whether bypassTracing was called: wiring built afterwards leaves Annals' instrumentation out. */
export let tracingBypassed = false

/**
 * Takes Annals' instrumentation out of this process as far as a switch can: every check where a span would
 * start answers no without asking the global provider, and a gateway built afterwards registers no tracing
 * hooks. The baseline of bench/tracing-cost.bench.ts; internal, not exported by 'annals'.
 */
export function bypassTracing(): void {
  tracingBypassed = true
  tracingEnabled = () => false
}
