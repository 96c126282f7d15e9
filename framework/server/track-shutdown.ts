import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { CommandBus } from '../command/command-bus.ts'
import { AnnalsError } from '../errors.ts'

export interface ShutdownTracker {
  /** The bus to serve: refuses new commands once draining, counts those in flight. */
  readonly commands: CommandBus
  readonly isDraining: () => boolean
  readonly beginDraining: () => void
  /** Resolves when no command is in flight, or after the timeout (logged). */
  awaitInFlight(timeoutMs: number, log: FastifyBaseLogger): Promise<void>
  /** Closes the app on SIGTERM or SIGINT; exits with 1 if closing outlasts the timeout. */
  handleSignals(app: FastifyInstance, timeoutMs: number): void
}

/**
 * The order of a graceful shutdown: stop being ready and take no new work, let commands in flight finish,
 * then close the rest. createServer calls these from fastify's preClose and onClose hooks.
 */
export function trackShutdown(bus: CommandBus): ShutdownTracker {
  let draining = false
  let inFlight = 0
  let idle: (() => void) | undefined
  return {
    commands: {
      async execute(envelope) {
        if (draining)
          throw new AnnalsError('SHUTTING_DOWN', 'The server is shutting down; retry on another replica')
        inFlight++
        try {
          return await bus.execute(envelope)
        } finally {
          inFlight--
          if (inFlight === 0) idle?.()
        }
      },
    },
    isDraining: () => draining,
    beginDraining: () => void (draining = true),
    async awaitInFlight(timeoutMs, log) {
      if (inFlight === 0) return
      let timer: NodeJS.Timeout | undefined
      const finished = new Promise<boolean>((resolve) => (idle = () => resolve(true)))
      const timedOut = new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)),
      )
      const done = await Promise.race([finished, timedOut])
      clearTimeout(timer)
      if (!done) log.warn({ inFlight }, 'Commands were still in flight when the shutdown timeout passed')
    },
    handleSignals(app, timeoutMs) {
      const onSignal = (signal: NodeJS.Signals) => {
        app.log.info({ signal }, 'Shutting down')
        const force = setTimeout(() => {
          app.log.error({ timeoutMs }, 'Shutdown took too long; exiting')
          process.exit(1)
        }, timeoutMs + 5000)
        force.unref()
        app.close().then(
          () => clearTimeout(force),
          (error: unknown) => app.log.error({ err: error }, 'Shutdown failed'),
        )
      }
      process.once('SIGTERM', onSignal)
      process.once('SIGINT', onSignal)
      app.addHook('onClose', (_instance, done) => {
        process.off('SIGTERM', onSignal)
        process.off('SIGINT', onSignal)
        done()
      })
    },
  }
}
