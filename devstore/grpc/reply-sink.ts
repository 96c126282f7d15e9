/**
 * The writing end of a server-streaming call, with grpc-js backpressure made explicit: `write` reports a
 * full buffer, `drain` waits until the client has taken it (or the call is gone).
 */
import type { ServerWritableStream } from '@grpc/grpc-js'
import type { ReadReq, ReadResp } from './protocol.ts'

export class ReplySink {
  private closed = false
  private readonly waiters = new Set<(open: boolean) => void>()

  constructor(readonly call: ServerWritableStream<ReadReq, ReadResp>) {
    call.on('drain', () => this.wake(true))
    call.on('cancelled', () => this.close())
    call.on('close', () => this.close())
  }

  get isOpen(): boolean {
    return !this.closed
  }

  /** False when the call's buffer is full: stop writing and `drain` before the next message. */
  write(message: ReadResp): boolean {
    if (this.closed) return false
    return this.call.write(message)
  }

  /** Resolves true once the buffer has drained, false if the call closed first. */
  drain(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false)
    if (!this.call.writableNeedDrain) return Promise.resolve(true)
    return new Promise((resolve) => this.waiters.add(resolve))
  }

  /** Ends the call with OK. */
  end(): void {
    if (this.closed) return
    this.call.end()
    this.close()
  }

  /** Ends the call with an error status. */
  fail(error: unknown): void {
    if (this.closed) return
    this.call.emit('error', error)
    this.close()
  }

  /** Marks the call gone and releases anyone waiting on `drain`. */
  close(): void {
    if (this.closed) return
    this.closed = true
    this.wake(false)
  }

  private wake(open: boolean): void {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const resolve of waiters) resolve(open && !this.closed)
  }
}
