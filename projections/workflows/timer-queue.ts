/** A pending timer as the queue holds it: when it is due, whose it is, and which schedule of its name it is. */
export interface QueuedTimer {
  readonly due: number
  readonly workflowId: string
  readonly name: string
  /** Derived from the trigger that scheduled it: a later schedule of the same name has another id. */
  readonly id: string
  /** Firings of it that failed so far, when any did: it is queued again later each time. */
  readonly failures?: number
}

/**
 * The pending timers of the workflow instances one replica owns: a binary min-heap by due time, with a map from
 * each instance to its live entries (the heap's own objects, so the map adds no strings of its own: about 220
 * bytes per timer in all). Cancelling or rescheduling a timer only updates the map; its stale heap entry is
 * skipped when it surfaces, and the heap is rebuilt once stale entries outnumber live ones, so memory stays
 * within twice the pending timers.
 */
export class TimerQueue {
  readonly #heap: QueuedTimer[] = []
  /** The live entries of each instance: one entry alone (the common case), or several. */
  readonly #live = new Map<string, QueuedTimer | QueuedTimer[]>()
  #size = 0

  /** How many timers are pending (stale heap entries not counted). */
  get size(): number {
    return this.#size
  }

  /** Entries held, stale ones included: at most twice the pending timers, plus a slack of 1,024. */
  get entries(): number {
    return this.#heap.length
  }

  /** Schedules a timer; a pending one of the same instance and name is replaced. */
  add(timer: QueuedTimer): void {
    const held = this.#live.get(timer.workflowId)
    if (held === undefined) {
      this.#live.set(timer.workflowId, timer)
      this.#size++
    } else if (!Array.isArray(held)) {
      if (held.name === timer.name) this.#live.set(timer.workflowId, timer)
      else {
        this.#live.set(timer.workflowId, [held, timer])
        this.#size++
      }
    } else {
      const index = held.findIndex((entry) => entry.name === timer.name)
      if (index >= 0) held[index] = timer
      else {
        held.push(timer)
        this.#size++
      }
    }
    this.#push(timer)
    if (this.#heap.length > 2 * this.#size + 1024) this.#compact()
  }

  /** Forgets a pending timer (its heap entry goes stale). */
  remove(workflowId: string, name: string): void {
    const held = this.#live.get(workflowId)
    if (held === undefined) return
    if (!Array.isArray(held)) {
      if (held.name !== name) return
      this.#live.delete(workflowId)
      this.#size--
      return
    }
    const rest = held.filter((entry) => entry.name !== name)
    if (rest.length === held.length) return
    this.#size--
    this.#live.set(workflowId, rest.length === 1 ? rest[0]! : rest)
  }

  /** The due time of the earliest live timer, or undefined when none is pending. */
  nextDue(): number | undefined {
    this.#dropStaleTop()
    return this.#heap[0]?.due
  }

  /** Takes every live timer due at or before `now`, earliest first. */
  takeDue(now: number): QueuedTimer[] {
    const due: QueuedTimer[] = []
    for (;;) {
      this.#dropStaleTop()
      const top = this.#heap[0]
      if (!top || top.due > now) return due
      this.#pop()
      this.remove(top.workflowId, top.name)
      due.push(top)
    }
  }

  /** Empties the queue (the partition moved away). */
  clear(): void {
    this.#heap.length = 0
    this.#live.clear()
    this.#size = 0
  }

  #isLive(timer: QueuedTimer): boolean {
    const held = this.#live.get(timer.workflowId)
    return held === timer || (Array.isArray(held) && held.includes(timer))
  }

  #dropStaleTop(): void {
    while (this.#heap.length > 0 && !this.#isLive(this.#heap[0]!)) this.#pop()
  }

  #compact(): void {
    const live = this.#heap.filter((timer) => this.#isLive(timer))
    this.#heap.length = 0
    for (const timer of live) this.#push(timer)
  }

  #push(timer: QueuedTimer): void {
    const heap = this.#heap
    heap.push(timer)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (heap[parent]!.due <= timer.due) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = timer
  }

  #pop(): void {
    const heap = this.#heap
    const last = heap.pop()!
    if (heap.length === 0) return
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= heap.length) break
      const right = left + 1
      const child = right < heap.length && heap[right]!.due < heap[left]!.due ? right : left
      if (heap[child]!.due >= last.due) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = last
  }
}
