/**
 * The calls a devstore server has open, so that shutdown and fault injection can end them the way
 * EventStoreDB would: open BatchAppend calls end CANCELLED, in-flight unary appends see UNAVAILABLE,
 * subscriptions are dropped with UNAVAILABLE (the client resubscribes or reconnects).
 */

/** What a call is, which decides how it ends. */
export type OpenCallKind = 'unary' | 'batch-append' | 'read' | 'subscription'

/** Why the server ends a call: it shuts down, or a test dropped every subscription. */
export type EndReason = 'shutdown' | 'drop'

export interface OpenCall {
  readonly kind: OpenCallKind
  /** Ends the call with the status its kind and the reason call for; called at most once. */
  readonly end: (reason: EndReason) => void
}

export class OpenCalls {
  private readonly calls = new Set<OpenCall>()

  /** Tracks a call until the returned function is called (when the call ends by itself). */
  add(call: OpenCall): () => void {
    this.calls.add(call)
    return () => {
      this.calls.delete(call)
    }
  }

  /** Ends every tracked call of the given kinds (all kinds when omitted). */
  endAll(reason: EndReason, kinds?: readonly OpenCallKind[]): number {
    let ended = 0
    for (const call of [...this.calls]) {
      if (kinds !== undefined && !kinds.includes(call.kind)) continue
      this.calls.delete(call)
      call.end(reason)
      ended++
    }
    return ended
  }

  get size(): number {
    return this.calls.size
  }
}
