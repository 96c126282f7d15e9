/** What a peer answers to a probe: it serves, or it is shutting down and wants no more commands. */
export type ProbeAnswer = 'alive' | 'leaving'

/** The clock the membership and its prober run on: the real one, or a test's. */
export interface MembershipTimers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  now(): number
}
