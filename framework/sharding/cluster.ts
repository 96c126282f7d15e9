import type { FastifyInstance } from 'fastify'
import type { CommandBus } from '../command/command-bus.ts'
import type { LocalCommandBus } from '../command/create-command-bus.ts'

/**
 * The seam between createServer and sharding: createServer builds the local command pipeline, hands it to
 * the cluster, and serves commands through the bus the cluster returns (which forwards to the owner).
 */
export interface ClusterContext {
  /** This replica's pipeline: it runs the commands this replica owns. */
  readonly local: LocalCommandBus
  /** The fastify instance of this replica; the cluster registers its internal routes on it. */
  readonly http: FastifyInstance
  /** This replica's internal address as peers reach it, e.g. http://127.0.0.1:4001. */
  readonly selfUrl: string
}

export interface MemberStatus {
  readonly id: string
  readonly url: string
  readonly state: 'alive' | 'suspect' | 'down' | 'leaving'
  readonly self: boolean
}

export interface ClusterStatus {
  readonly self: string
  readonly members: readonly MemberStatus[]
  /** Aggregates held in memory on this replica. */
  readonly hostedAggregates: number
  readonly localCommands: number
  readonly forwardedCommands: number
  /** Appends this replica's aggregates wrote; commands waiting together share one. */
  readonly appends: number
  /** Commands decided in those appends: appendedCommands / appends is the mean group size. */
  readonly appendedCommands: number
  /** Groups decided again because another writer appended to their stream first. */
  readonly conflicts: number
}

export interface Cluster {
  /** Routes each command to its owner: executes locally or forwards. */
  readonly commands: CommandBus
  /** Whether this replica runs the given reactor partition now. */
  ownsPartition(reactor: string, partition: string): boolean
  /** Called with every membership change (e.g. to rebalance reactor partitions). */
  onChange(listener: () => void): () => void
  status(): ClusterStatus
  /** Leaves the ring (peers stop routing here), then lets in-flight commands finish. */
  leave(): Promise<void>
  close(): Promise<void>
}

export interface ClusterOption {
  create(context: ClusterContext): Promise<Cluster>
}
