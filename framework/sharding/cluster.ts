import type { FastifyInstance } from 'fastify'
import type { CommandBus } from '../command/command-bus.ts'
import type { LocalCommandBus } from '../command/create-command-bus.ts'
import type { PeerReply } from './wire/peer-client.ts'

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

/** A member of the ring as an operator sees it: its state, and the aggregates it holds when it answered. */
export interface RingMember extends MemberStatus {
  /** Aggregates held in memory there; undefined when the member did not answer in time. */
  readonly hostedAggregates: number | undefined
}

export interface Cluster {
  /** Routes each command to its owner: executes locally or forwards. */
  readonly commands: CommandBus
  /** Whether this replica runs the given reactor partition now. */
  ownsPartition(reactor: string, partition: string): boolean
  /** Called with every membership change (e.g. to rebalance reactor partitions). */
  onChange(listener: () => void): () => void
  status(): ClusterStatus
  /** Every member with the aggregates it hosts, asked of each live peer over the internal channel. */
  ring(): Promise<readonly RingMember[]>
  /**
   * POSTs JSON to another live member of the ring with the cluster's secret (the ops endpoint forwards a
   * projection's controls to the replica that runs it); NOT_FOUND for a URL that is not one.
   */
  postToMember(url: string, path: string, body: unknown, timeoutMs: number): Promise<PeerReply>
  /** Whether the internal channel needs the cluster's secret (always so in production). */
  readonly secured: boolean
  /** Whether an Authorization header carries the cluster's secret (false when it has none). */
  carriesSecret(authorization: string | undefined): boolean
  /** Leaves the ring (peers stop routing here), then lets in-flight commands finish. */
  leave(): Promise<void>
  close(): Promise<void>
}

export interface ClusterOption {
  create(context: ClusterContext): Promise<Cluster>
}
