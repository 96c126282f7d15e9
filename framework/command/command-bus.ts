/**
 * The CommandBus port: how the gateway (and reactors) send a command without knowing where it runs. The
 * local command pipeline implements it; the sharding router wraps it to forward commands to their owner.
 */
export interface CommandEnvelope {
  /** The aggregate type name, e.g. 'Battery'. */
  readonly aggregate: string
  /** The command name as declared, e.g. 'startCharging'. */
  readonly command: string
  readonly aggregateId: string
  /** Unvalidated input; the pipeline validates it with the command's zod schema. */
  readonly input: unknown
  /** The idempotency key; generated when absent. The same id twice appends once. */
  readonly commandId?: string
}

/** One appended event as a command's result reports it. */
export interface AppendedEvent {
  readonly id: string
  readonly type: string
  readonly data: unknown
  readonly revision: bigint
  readonly position: bigint
}

export interface CommandResult {
  readonly aggregateId: string
  readonly commandId: string
  /** The aggregate's revision after the command. */
  readonly revision: bigint
  readonly events: readonly AppendedEvent[]
  /** The `$all` position of the last event: the consistency token for read-your-writes. */
  readonly position: bigint
}

export interface CommandBus {
  execute(envelope: CommandEnvelope): Promise<CommandResult>
}
