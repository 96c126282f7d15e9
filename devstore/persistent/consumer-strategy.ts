import type { ConsumerStrategy } from './group-settings.ts'

/** A connected consumer as the strategies see it: how many messages it holds and may hold. */
export interface ConsumerSlot {
  readonly id: string
  readonly capacity: number
  inFlight: number
}

/**
 * Picks consumers for messages under one strategy. RoundRobin rotates over the consumers with room;
 * DispatchToSingle fills the oldest consumer before it spills to the next; Pinned sends every message
 * of one source stream to the same consumer (by a hash of the stream name over the consumers in join
 * order) and holds it back while that consumer is full, so each stream's order is kept.
 */
export class ConsumerSelector {
  private next = 0

  constructor(private readonly strategy: ConsumerStrategy) {}

  /** The consumer that gets a message pinned by `pinKey`, or undefined when it must wait. */
  pick<TSlot extends ConsumerSlot>(consumers: readonly TSlot[], pinKey: string): TSlot | undefined {
    if (consumers.length === 0) return undefined
    switch (this.strategy) {
      case 'RoundRobin':
        return this.pickRoundRobin(consumers)
      case 'DispatchToSingle':
        return consumers.find(hasRoom)
      case 'Pinned': {
        const pinned = consumers[hashOf(pinKey) % consumers.length]
        return pinned !== undefined && hasRoom(pinned) ? pinned : undefined
      }
    }
  }

  /** Whether no message can go anywhere now, so dispatch may stop early. */
  isSaturated(consumers: readonly ConsumerSlot[]): boolean {
    return !consumers.some(hasRoom)
  }

  private pickRoundRobin<TSlot extends ConsumerSlot>(consumers: readonly TSlot[]): TSlot | undefined {
    for (let tried = 0; tried < consumers.length; tried++) {
      const index = (this.next + tried) % consumers.length
      const candidate = consumers[index]
      if (candidate !== undefined && hasRoom(candidate)) {
        this.next = (index + 1) % consumers.length
        return candidate
      }
    }
    return undefined
  }
}

function hasRoom(consumer: ConsumerSlot): boolean {
  return consumer.inFlight < consumer.capacity
}

/** FNV-1a over the UTF-16 code units: stable across processes, cheap, good enough to spread streams. */
function hashOf(text: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193) >>> 0
  }
  return hash
}
