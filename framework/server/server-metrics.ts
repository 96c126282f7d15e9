import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CommandBus } from '../command/command-bus.ts'
import type { LocalCommandBus } from '../command/create-command-bus.ts'
import { isAnnalsError } from '../errors.ts'
import type { Cluster } from '../sharding/cluster.ts'
import type { ProjectionStatus } from '../read-model/read-model-source.ts'
import type { ReadSide } from '../read-model/read-side.ts'
import type { PartitionStatus } from '../read-model/read-side-operations.ts'

export interface ServerMetrics {
  readonly registry: Registry
  /** Wraps a bus so each command is counted by outcome (ok or its error code) and timed. */
  instrument(bus: CommandBus): CommandBus
  setActiveSubscriptions(active: number): void
  /** Counts a GraphQL request refused with OVERLOADED because the process was saturated. */
  requestShed(): void
  subscriptionEnded(reason: 'complete' | 'slow-consumer'): void
  /** Reports the lag of each projection at every scrape. */
  watchReadSide(readSide: ReadSide): void
  /** Reports local and forwarded commands from the cluster's status at every scrape. */
  watchCluster(cluster: Cluster): void
  /** Reports the aggregates held in memory and what their mailboxes wrote, at every scrape. */
  watchHost(host: LocalCommandBus['host']): void
  /** Counts a workflow timer fired here and observes how late it fired. */
  timerFired(workflow: string, latenessMs: number): void
}

/** The Prometheus metrics of one server, in a registry of its own (several servers can share a process). */
export function createServerMetrics(): ServerMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const registers = [registry]
  const commands = new Counter({
    name: 'annals_commands_total',
    help: 'Commands handled, by aggregate, command and outcome (ok or the error code).',
    labelNames: ['aggregate', 'command', 'outcome'],
    registers,
  })
  const latency = new Histogram({
    name: 'annals_command_duration_seconds',
    help: 'Time from receiving a command to its events being appended.',
    labelNames: ['aggregate', 'command'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  })
  const conflicts = new Counter({
    name: 'annals_concurrency_conflicts_total',
    help: 'Commands that failed with CONCURRENCY_CONFLICT after their retries.',
    labelNames: ['aggregate'],
    registers,
  })
  const shed = new Counter({
    name: 'annals_requests_shed_total',
    help: 'GraphQL requests refused with OVERLOADED before parsing: the event loop lagged past its bound, or was busier than its utilization bound.',
    registers,
  })
  const subscriptions = new Gauge({
    name: 'annals_subscriptions_active',
    help: 'GraphQL subscriptions running.',
    registers,
  })
  const ended = new Counter({
    name: 'annals_subscriptions_ended_total',
    help: 'Subscriptions ended, by reason (slow-consumer: disconnected for falling behind).',
    labelNames: ['reason'],
    registers,
  })
  let readSide: ReadSide | undefined
  // One series per projection, read from the read side's statuses at every scrape.
  const projectionGauge = (name: string, help: string, value: (status: ProjectionStatus) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['projection'],
      registers,
      collect() {
        for (const status of readSide?.statuses() ?? []) this.set({ projection: status.name }, value(status))
      },
    })
  projectionGauge(
    'annals_projection_lag_events',
    'Events in the log a projection has not processed yet.',
    (status) => status.eventsBehind,
  )
  projectionGauge(
    'annals_projection_lag_seconds',
    'How far behind the head of the log a projection is, in time.',
    (status) => status.millisecondsBehind / 1000,
  )
  projectionGauge(
    'annals_projection_dead_letters',
    'Events a projection could not fold after its retries, waiting to be retried or discarded.',
    (status) => status.deadLetters,
  )
  projectionGauge(
    'annals_projection_held_events',
    'Events held back behind a dead letter or a retry of their key, not in the read model yet.',
    (status) => status.heldEvents ?? 0,
  )
  // One series per reactor or workflow partition running here, read at every scrape; one that moved away drops out.
  const partitionGauge = (
    kind: 'reactor' | 'workflow',
    name: string,
    help: string,
    value: (status: PartitionStatus) => number,
  ) =>
    new Gauge({
      name,
      help,
      labelNames: [kind, 'partition'],
      registers,
      collect() {
        this.reset()
        const names = (kind === 'reactor' ? readSide?.reactorNames : readSide?.workflows) ?? []
        for (const processor of names) {
          const operations =
            kind === 'reactor' ? readSide?.reactor?.(processor) : readSide?.workflow?.(processor)
          for (const status of operations?.partitionStatuses() ?? [])
            this.set({ [kind]: processor, partition: status.partition }, value(status))
        }
      },
    })
  for (const kind of ['reactor', 'workflow'] as const) {
    partitionGauge(
      kind,
      `annals_${kind}_lag_events`,
      `Events in the log a ${kind} partition running here has not handled yet.`,
      (status) => status.eventsBehind,
    )
    partitionGauge(
      kind,
      `annals_${kind}_lag_seconds`,
      `The age of the oldest event a ${kind} partition running here has not handled; 0 when level.`,
      (status) => status.millisecondsBehind / 1000,
    )
  }
  new Gauge({
    name: 'annals_workflow_timers_pending',
    help: 'Workflow timers (scheduled commands included) pending in the partitions this replica runs.',
    labelNames: ['workflow'],
    registers,
    collect() {
      for (const name of readSide?.workflows ?? []) {
        const view = readSide?.workflowView?.(name)
        if (view) this.set({ workflow: name }, view.pendingTimers())
      }
    },
  })
  const timersFired = new Counter({
    name: 'annals_workflow_timers_fired_total',
    help: 'Workflow timers fired on this replica (each recorded once in its instance stream).',
    labelNames: ['workflow'],
    registers,
  })
  const timerLateness = new Histogram({
    name: 'annals_workflow_timer_lateness_seconds',
    help: 'How late a workflow timer fired after its due time: a busy replica, or downtime before recovery.',
    labelNames: ['workflow'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 3600],
    registers,
  })
  let cluster: Cluster | undefined
  new Gauge({
    name: 'annals_cluster_commands',
    help: 'Commands this replica executed locally or forwarded to their owner, from the cluster status.',
    labelNames: ['route'],
    registers,
    collect() {
      if (!cluster) return
      const status = cluster.status()
      this.set({ route: 'local' }, status.localCommands)
      this.set({ route: 'forwarded' }, status.forwardedCommands)
    },
  })
  let host: LocalCommandBus['host'] | undefined
  const hostGauge = (name: string, help: string, value: (held: LocalCommandBus['host']) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        if (host) this.set(value(host))
      },
    })
  hostGauge('annals_hosted_aggregates', 'Aggregates held in memory on this replica.', (held) => held.hosted())
  hostGauge(
    'annals_queued_commands',
    'Commands accepted on this replica and not yet answered (queued in mailboxes or being decided).',
    (held) => held.load().queued,
  )
  hostGauge(
    'annals_overloaded_commands',
    'Commands refused at once with OVERLOADED: their replica or aggregate queue was at its bound, or past the latency limit.',
    (held) => held.load().refused,
  )
  hostGauge(
    'annals_admitted_commands_limit',
    'Commands this replica admits in flight now: lowered while commands queue past the latency target, raised as they stop.',
    (held) => held.load().limit,
  )
  hostGauge(
    'annals_appends',
    'Appends the aggregates this replica runs made, each for a group of queued commands.',
    (held) => held.written().appends,
  )
  hostGauge(
    'annals_appended_commands',
    'Commands decided in those appends: divided by annals_appends, the mean group size.',
    (held) => held.written().commands,
  )
  hostGauge(
    'annals_conflict_retries',
    'Groups of commands decided again because another writer appended to their stream first.',
    (held) => held.written().conflicts,
  )

  return {
    registry,
    instrument: (bus) => ({
      async execute(envelope) {
        const labels = { aggregate: envelope.aggregate, command: envelope.command }
        const stop = latency.startTimer(labels)
        try {
          const result = await bus.execute(envelope)
          commands.inc({ ...labels, outcome: 'ok' })
          return result
        } catch (error) {
          const outcome = isAnnalsError(error) ? error.code : 'INTERNAL'
          commands.inc({ ...labels, outcome })
          if (outcome === 'CONCURRENCY_CONFLICT') conflicts.inc({ aggregate: envelope.aggregate })
          throw error
        } finally {
          stop()
        }
      },
    }),
    setActiveSubscriptions: (active) => subscriptions.set(active),
    requestShed: () => shed.inc(),
    subscriptionEnded: (reason) => ended.inc({ reason }),
    watchReadSide: (watched) => void (readSide = watched),
    watchCluster: (watched) => void (cluster = watched),
    watchHost: (watched) => void (host = watched),
    timerFired(workflow, latenessMs) {
      timersFired.inc({ workflow })
      timerLateness.observe({ workflow }, latenessMs / 1000)
    },
  }
}
