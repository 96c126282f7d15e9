import { createServer } from 'node:net'

/** The devstore could not listen: another process already listens on that host and port. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError'
  readonly code = 'PORT_IN_USE'
  constructor(
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(`Another process already listens on ${host}:${port}`, options)
  }
}

/**
 * Rejects with PortInUseError when `host:port` is taken, by listening there for a moment: grpc-js would
 * find it too, but it logs its own raw error first.
 */
export async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(host, port, { cause: error }) : error),
    )
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()))
  })
}

/** Whether grpc-js's bind failure says the address is taken (it wraps the listen error in its message). */
export function isAddressInUse(error: unknown): boolean {
  return error instanceof Error && error.message.includes('EADDRINUSE')
}
