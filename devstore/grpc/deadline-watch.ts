/**
 * One timer for many deadlines (epoch milliseconds): BatchAppend answers each request with a Timeout when
 * its deadline passes before the engine answers it.
 */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The deadlines of one call's requests in flight, on one timer armed for the earliest: a request's
 * deadline is usually later than those before it (the client sets now + a fixed timeout), so the timer is
 * rarely re-armed, rather than a timer and a race per request.
 */
export class DeadlineWatch<Request extends { readonly deadline: number }> {
  readonly #requests = new Set<Request>()
  readonly #expire: (request: Request) => void
  #timer: NodeJS.Timeout | undefined
  #armedFor = Number.POSITIVE_INFINITY

  constructor(expire: (request: Request) => void) {
    this.#expire = expire
  }

  add(request: Request, now: number): void {
    this.#requests.add(request)
    if (request.deadline < this.#armedFor) this.#arm(request.deadline, now)
  }

  remove(request: Request): void {
    this.#requests.delete(request)
  }

  stop(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
    this.#requests.clear()
  }

  #arm(deadline: number, now: number): void {
    clearTimeout(this.#timer)
    this.#armedFor = deadline
    // setTimeout fires at once past its limit; a far deadline is looked at again when the limit passes.
    this.#timer = setTimeout(() => this.#fire(), Math.min(Math.max(1, deadline - now), MAX_TIMER_MS))
    // The requests' own work keeps the process alive; a deadline alone does not.
    this.#timer.unref()
  }

  #fire(): void {
    this.#timer = undefined
    this.#armedFor = Number.POSITIVE_INFINITY
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const request of [...this.#requests]) {
      if (request.deadline <= now) this.#expire(request)
      else if (request.deadline < next) next = request.deadline
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next, now)
  }
}
