/**
 * How `annals ops` prints what the operations endpoint answers: aligned tables for people (`--json` prints
 * the answer as it came instead).
 */

/** A dead letter as the operations schema gives it. */
export interface DeadLetterRow {
  readonly id: string
  readonly event: { type: string; stream: string; position: string } | null
  readonly key: string | null
  readonly partition: string | null
  readonly workflowId: string | null
  readonly trigger: string | null
  readonly error: string
  readonly failedAt: string
}

export interface ProjectionRow {
  readonly name: string
  readonly status: string
  readonly failure: string | null
  readonly caughtUp: boolean
  readonly position: string
  readonly eventsBehind: number
  readonly secondsBehind: number
  readonly heldEvents: number
  readonly deadLetters: readonly DeadLetterRow[]
}

export interface PartitionRow {
  readonly partition: string
  readonly position: string
  readonly checkpoint: string | null
  readonly eventsBehind: number
  readonly secondsBehind: number
}

export interface ProcessorRow {
  readonly name: string
  readonly kind: string
  readonly partitions: readonly string[]
  readonly eventsBehind: number
  readonly secondsBehind: number
  readonly partitionStatus: readonly PartitionRow[]
  readonly deadLetters: readonly DeadLetterRow[]
}

export interface RingRow {
  readonly sharded: boolean
  readonly self: string
  readonly members: readonly { url: string; state: string; self: boolean; hostedAggregates: number | null }[]
}

export interface StoreRow {
  readonly kind: string
  readonly description: string
  readonly reachable: boolean
  readonly headPosition: string | null
  readonly latencyMs: number | null
  readonly error: string | null
}

/** The projections, then their dead letters (the ids `annals ops retry` and `discard` take). */
export function projectionsTable(projections: readonly ProjectionRow[]): string {
  const rows = projections.map((p) => [
    p.name,
    p.status === 'RUNNING' && !p.caughtUp ? 'RUNNING (catching up)' : p.status,
    p.position,
    String(p.eventsBehind),
    `${p.secondsBehind.toFixed(1)} s`,
    String(p.heldEvents),
    String(p.deadLetters.length),
  ])
  const table = formatTable(
    ['PROJECTION', 'STATUS', 'POSITION', 'BEHIND', 'AGE', 'HELD', 'DEAD LETTERS'],
    rows,
  )
  const failed = projections.flatMap((p) => (p.failure === null ? [] : [[p.name, p.failure]]))
  const failures = failed.length === 0 ? '' : `\n${formatTable(['FAILED', 'WHY'], failed)}`
  return (
    table +
    failures +
    deadLettersTable(projections.flatMap((p) => p.deadLetters.map((d) => ({ owner: p.name, d }))))
  )
}

/** The reactors or workflows, then where each partition running here stands, then their dead letters. */
export function processorsTable(processors: readonly ProcessorRow[], title: string): string {
  const rows = processors.map((p) => [
    p.name,
    p.partitions.join(',') || '-',
    String(p.eventsBehind),
    `${p.secondsBehind.toFixed(1)} s`,
    String(p.deadLetters.length),
  ])
  const table = formatTable([title, 'PARTITIONS HERE', 'BEHIND', 'AGE', 'DEAD LETTERS'], rows)
  const partitions = processors.flatMap((p) =>
    p.partitionStatus.map((s) => [
      p.name,
      s.partition,
      s.position,
      s.checkpoint ?? '-',
      String(s.eventsBehind),
      `${s.secondsBehind.toFixed(1)} s`,
    ]),
  )
  const partitionTable =
    partitions.length === 0
      ? ''
      : `\n${formatTable(['OF', 'PARTITION', 'POSITION', 'CHECKPOINT', 'BEHIND', 'AGE'], partitions)}`
  return (
    table +
    partitionTable +
    deadLettersTable(processors.flatMap((p) => p.deadLetters.map((d) => ({ owner: p.name, d }))))
  )
}

export function ringTable(ring: RingRow): string {
  const rows = ring.members.map((m) => [
    m.url,
    m.state,
    m.hostedAggregates === null ? '?' : String(m.hostedAggregates),
    m.self ? 'yes' : '',
  ])
  const heading = ring.sharded ? '' : 'Not sharded: this replica alone.\n'
  return heading + formatTable(['MEMBER', 'STATE', 'AGGREGATES', 'ANSWERED HERE'], rows)
}

export function storeTable(store: StoreRow): string {
  return formatTable(
    ['STORE', 'REACHABLE', 'HEAD', 'LATENCY', 'WHERE'],
    [
      [
        store.kind,
        store.reachable ? 'yes' : `no: ${store.error ?? 'no answer'}`,
        store.headPosition ?? '-',
        store.latencyMs === null ? '-' : `${store.latencyMs} ms`,
        store.description,
      ],
    ],
  )
}

function deadLettersTable(letters: readonly { owner: string; d: DeadLetterRow }[]): string {
  if (letters.length === 0) return ''
  const rows = letters.map(({ owner, d }) => [
    owner,
    d.id,
    d.event ? `${d.event.type} ${d.event.stream} @${d.event.position}` : (d.trigger ?? '-'),
    d.key ?? d.workflowId ?? d.partition ?? '-',
    d.error,
  ])
  return `\n${formatTable(['OF', 'DEAD LETTER', 'EVENT', 'HOLDS', 'ERROR'], rows)}`
}

/** Columns padded to their widest cell, two spaces apart; one line per row. */
function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const cells = [headers, ...rows].map((row) => row.map((cell) => cell.replace(/\s+/g, ' ')))
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)))
  const lines = cells.map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  )
  if (rows.length === 0) lines.push('(none)')
  return `${lines.join('\n')}\n`
}
