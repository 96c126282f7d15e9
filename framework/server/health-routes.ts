import type { FastifyInstance } from 'fastify'
import type { EventStore } from '../event-store/event-store.ts'
import type { ReadSide } from '../read-model/read-side.ts'
import type { ServerMetrics } from './server-metrics.ts'

export interface HealthOptions {
  readonly store: EventStore
  readonly readSide: ReadSide | undefined
  readonly isDraining: () => boolean
  /** How long the store may take to answer the readiness probe. Default 2 s. */
  readonly storeTimeoutMs?: number
}

/**
 * `/health/live` (the process serves HTTP) and `/health/ready` (the store answers, every projection has
 * caught up, and the server is not draining: 503 with the reasons otherwise).
 */
export function registerHealthRoutes(app: FastifyInstance, options: HealthOptions): void {
  const storeTimeoutMs = options.storeTimeoutMs ?? 2000
  app.get('/health/live', () => ({ status: 'live' }))
  app.get('/health/ready', async (_request, reply) => {
    const reasons: string[] = []
    if (options.isDraining()) reasons.push('the server is shutting down')
    else {
      if (!(await storeAnswers(options.store, storeTimeoutMs)))
        reasons.push('the event store does not answer')
      const readModels = options.readSide?.unready?.() ?? []
      reasons.push(...readModels)
      if (options.readSide && readModels.length === 0 && !options.readSide.isCaughtUp()) {
        reasons.push('projections are catching up')
      }
    }
    const projections = (options.readSide?.statuses() ?? []).map((status) => ({
      name: status.name,
      state: status.state,
      position: String(status.position),
      eventsBehind: status.eventsBehind,
    }))
    if (reasons.length > 0) return reply.code(503).send({ status: 'not ready', reasons, projections })
    return { status: 'ready', projections }
  })
}

/** `/metrics` for Prometheus, on the main server or on one of its own (see createServer's `metrics`). */
export function registerMetricsRoute(app: FastifyInstance, metrics: ServerMetrics): void {
  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(body)
  })
}

async function storeAnswers(store: EventStore, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
  try {
    return await Promise.race([store.headPosition().then(() => true), timeout])
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}
