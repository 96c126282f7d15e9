import type { MembershipTimers, ProbeAnswer } from './probe.ts'

export interface PeerProberOptions {
  readonly probe: (url: string, signal: AbortSignal) => Promise<ProbeAnswer>
  readonly announceLeave: (url: string, signal: AbortSignal) => Promise<void>
  /** Each round of probes or announcements is abandoned after this long. */
  readonly timeoutMs: number
  readonly timers: MembershipTimers
  /** Called with each peer's answer, or `undefined` when it failed or timed out. */
  readonly onAnswer: (url: string, answer: ProbeAnswer | undefined) => void
}

export interface PeerProber {
  /** Probes the peers at once; resolves when each has answered or timed out, never rejects. */
  probe(urls: readonly string[]): Promise<void>
  /** Tells the peers this replica is leaving; failures and timeouts are ignored. */
  announceLeave(urls: readonly string[]): Promise<void>
  /** Abandons the probes in flight. */
  close(): void
}

/** Creates what talks to the peers for the membership: probes and leave announcements, each bounded in time. */
export function createPeerProber(options: PeerProberOptions): PeerProber {
  const { timeoutMs, timers, onAnswer } = options
  const inFlight = new Set<AbortController>()

  const probeOne = async (url: string, signal: AbortSignal) => {
    let answer: ProbeAnswer | undefined
    try {
      answer = await withTimeout(options.probe(url, signal), signal)
    } catch {
      answer = undefined
    }
    onAnswer(url, answer)
  }

  return {
    async probe(urls) {
      const controller = new AbortController()
      inFlight.add(controller)
      const timer = timers.setTimeout(() => controller.abort(), timeoutMs)
      try {
        await Promise.all(urls.map((url) => probeOne(url, controller.signal)))
      } finally {
        timers.clearTimeout(timer)
        inFlight.delete(controller)
      }
    },
    async announceLeave(urls) {
      const controller = new AbortController()
      const timer = timers.setTimeout(() => controller.abort(), timeoutMs)
      await Promise.allSettled(
        urls.map((url) => withTimeout(options.announceLeave(url, controller.signal), controller.signal)),
      )
      timers.clearTimeout(timer)
    },
    close() {
      for (const controller of inFlight) controller.abort()
    },
  }
}

function withTimeout<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('probe timed out'))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('probe timed out'))
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error instanceof Error ? error : new Error(String(error)))
      },
    )
  })
}
