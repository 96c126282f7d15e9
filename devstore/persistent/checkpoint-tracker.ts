/** The checkpoint bounds of a group's settings. */
export interface CheckpointPolicy {
  readonly checkpointAfterMs: number
  readonly minCheckpointCount: number
  readonly maxCheckpointCount: number
}

/**
 * Follows which source messages a group has finished with (acked, skipped or parked) and says when
 * and where to checkpoint. The checkpoint is the last sequence before the oldest message still
 * outstanding, so a group that resumes from it redelivers rather than loses (at-least-once).
 * Checkpoints fall due once `maxCheckpointCount` messages finished since the last one, or once
 * `checkpointAfterMs` passed with at least `minCheckpointCount` of them.
 */
export class CheckpointTracker {
  private outstanding: bigint[] = []
  private head = 0
  private readonly finished = new Set<bigint>()
  private processedUpTo: bigint | undefined
  private finishedSinceCheckpoint = 0
  private checkpointedAt: number
  private lastStored: bigint | undefined

  constructor(
    private readonly policy: CheckpointPolicy,
    private lastCheckpoint: bigint | undefined,
    now: number,
  ) {
    this.processedUpTo = lastCheckpoint
    this.checkpointedAt = now
    this.lastStored = lastCheckpoint
  }

  /** The sequence last chosen as a checkpoint (its write may still be on its way). */
  get checkpoint(): bigint | undefined {
    return this.lastCheckpoint
  }

  /** The sequence of the last checkpoint whose write completed: what a group reports as checkpointed. */
  get storedCheckpoint(): bigint | undefined {
    return this.lastStored
  }

  /** Messages read from the source and not yet finished. */
  get outstandingCount(): number {
    return this.outstanding.length - this.head
  }

  /** A message was read from the source; sequences arrive in increasing order. */
  read(sequence: bigint): void {
    this.outstanding.push(sequence)
  }

  /** A message was acked, skipped or parked. */
  finish(sequence: bigint): void {
    if (this.finished.has(sequence)) return
    if (this.processedUpTo !== undefined && sequence <= this.processedUpTo) return
    this.finished.add(sequence)
    this.finishedSinceCheckpoint++
    while (this.head < this.outstanding.length) {
      const oldest = this.outstanding[this.head]
      if (oldest === undefined || !this.finished.has(oldest)) break
      this.finished.delete(oldest)
      this.processedUpTo = oldest
      this.head++
    }
    if (this.head > 1024 && this.head * 2 > this.outstanding.length) {
      this.outstanding = this.outstanding.slice(this.head)
      this.head = 0
    }
  }

  /** The checkpoint to write now, or undefined when none is due (or `force` finds nothing new). */
  due(now: number, force = false): bigint | undefined {
    const candidate = this.processedUpTo
    if (candidate === undefined || candidate === this.lastCheckpoint) return undefined
    const byCount = this.finishedSinceCheckpoint >= this.policy.maxCheckpointCount
    const byTime =
      now - this.checkpointedAt >= this.policy.checkpointAfterMs &&
      this.finishedSinceCheckpoint >= this.policy.minCheckpointCount
    return force || byCount || byTime ? candidate : undefined
  }

  /** A checkpoint write completed. */
  stored(sequence: bigint): void {
    if (this.lastStored === undefined || sequence > this.lastStored) this.lastStored = sequence
  }

  /** The checkpoint was chosen and its write queued. */
  written(sequence: bigint, now: number): void {
    this.lastCheckpoint = sequence
    this.checkpointedAt = now
    this.finishedSinceCheckpoint = 0
  }
}
