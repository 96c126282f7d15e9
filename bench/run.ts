import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { basename } from 'node:path'
import { pathToFileURL } from 'node:url'

/** One measured quantity: what it is, how much, in what unit. */
export interface Figure {
  readonly label: string
  readonly value: number
  readonly unit: string
}

/** What a benchmark reports: a figure, the baseline measured in the same run, and their ratio. */
export interface BenchResult {
  readonly figure: Figure
  readonly baseline: Figure
  /** figure / baseline, oriented so that higher is better. */
  readonly ratio: number
  /** The ratio the figure should reach or pass. */
  readonly target?: number
  readonly notes?: string
}

/** A benchmark module's default export: bench/<name>.bench.ts. */
export interface Bench {
  readonly name: string
  readonly description: string
  run(): Promise<BenchResult | readonly BenchResult[]>
}

const benchDirectory = new URL('./', import.meta.url)
const resultsFile = new URL('../docs/benchmarks.md', import.meta.url)

const RESULTS_HEADER = `# Benchmark results

Each benchmark measures a figure and, in the same run on the same machine, a baseline, and reports their
ratio (higher is better); absolute numbers move with the machine, the ratio much less. \`npm run bench\` lists
the benchmarks; \`npm run bench -- <name> --record\` runs one and appends its rows here.

- **command-pipeline**: commands per second through \`executeCommand\` on the in-memory store (validate the
  input, decide, check the events, derive ids, append with the expected revision, evolve), against a raw
  loop appending the same events to another in-memory store. The ratio is what the pipeline keeps of the store's
  speed (target 0.5 or more). It is measured in CPU time, in chunks of 5,000 commands per side; in chunks
  of 250 the pipeline pays more of the garbage collection and read 0.33–0.47 on the same (loaded) machine,
  so the target is met, narrowly.

First recorded on 2026-11-24 on a machine with 2 cores (shared with other work, so figures are noisy).

| Date | Benchmark | Figure | Baseline | Ratio | Target | Node | Cores | Notes |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
`

/**
 * Runs benchmarks: `npm run bench` lists them, `npm run bench -- <name>… [--record]` runs them, prints a
 * table with the ratio of each figure to its baseline, and with `--record` appends rows to docs/benchmarks.md.
 */
export async function runBenches(args: readonly string[]): Promise<number> {
  const record = args.includes('--record')
  const names = args.filter((arg) => !arg.startsWith('--'))
  const available = await listBenches()
  if (names.length === 0) {
    console.log('Benchmarks (npm run bench -- <name> [--record]):')
    for (const name of available) console.log(`  ${name.padEnd(24)} ${(await loadBench(name)).description}`)
    return 0
  }
  const unknown = names.filter((name) => !available.includes(name))
  if (unknown.length > 0) {
    console.error(`No benchmark named ${unknown.join(', ')}; known: ${available.join(', ')}`)
    return 1
  }
  const date = new Date().toISOString().slice(0, 10)
  console.log(`${date}  node ${process.version}  ${os.cpus().length} cores  ${os.cpus()[0]?.model ?? ''}`)
  for (const name of names) {
    const bench = await loadBench(name)
    console.log(`\n${bench.name}: ${bench.description}`)
    const outcome = await bench.run()
    const results = Array.isArray(outcome) ? (outcome as readonly BenchResult[]) : [outcome as BenchResult]
    printTable(results)
    if (record) await recordResults(date, bench.name, results)
  }
  if (record) console.log(`\nRecorded in ${resultsFile.pathname}`)
  return 0
}

async function listBenches(): Promise<string[]> {
  const files = await readdir(benchDirectory)
  return files
    .filter((file) => file.endsWith('.bench.ts'))
    .map((file) => basename(file, '.bench.ts'))
    .sort()
}

async function loadBench(name: string): Promise<Bench> {
  const module = (await import(new URL(`./${name}.bench.ts`, benchDirectory).href)) as { default?: Bench }
  if (!module.default || typeof module.default.run !== 'function') {
    throw new Error(`bench/${name}.bench.ts must default-export { name, description, run }`)
  }
  return module.default
}

function printTable(results: readonly BenchResult[]): void {
  const rows = results.map((result) => ({
    figure: formatFigure(result.figure),
    baseline: formatFigure(result.baseline),
    ratio: result.ratio.toFixed(2),
    target: result.target === undefined ? '' : `≥ ${result.target}`,
    verdict: verdict(result),
  }))
  const headers = { figure: 'Figure', baseline: 'Baseline', ratio: 'Ratio', target: 'Target', verdict: '' }
  const columns = Object.keys(headers) as (keyof typeof headers)[]
  const widths = columns.map((column) =>
    Math.max(headers[column].length, ...rows.map((row) => row[column].length)),
  )
  const line = (row: Record<keyof typeof headers, string>) =>
    columns.map((column, index) => row[column].padEnd(widths[index]!)).join('  ')
  console.log(line(headers))
  for (const row of rows) console.log(line(row))
  for (const result of results) if (result.notes) console.log(`  note: ${result.notes}`)
}

function formatFigure(figure: Figure): string {
  const digits = Math.abs(figure.value) >= 100 ? 0 : 2
  const value = figure.value.toLocaleString('en-US', { maximumFractionDigits: digits })
  return `${figure.label}: ${value} ${figure.unit}`
}

function verdict(result: BenchResult): string {
  if (result.target === undefined) return ''
  return result.ratio >= result.target ? 'meets target' : 'BELOW TARGET'
}

async function recordResults(date: string, name: string, results: readonly BenchResult[]): Promise<void> {
  const existing = await readFile(resultsFile, 'utf8').catch(() => undefined)
  if (existing === undefined) await writeFile(resultsFile, RESULTS_HEADER)
  const cell = (text: string) => text.replaceAll('|', '\\|')
  const rows = results.map((result) =>
    [
      date,
      name,
      formatFigure(result.figure),
      formatFigure(result.baseline),
      result.ratio.toFixed(2),
      result.target === undefined ? '' : `≥ ${result.target}`,
      process.version,
      String(os.cpus().length),
      result.notes ?? '',
    ]
      .map(cell)
      .join(' | '),
  )
  await appendFile(resultsFile, rows.map((row) => `| ${row} |\n`).join(''))
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await runBenches(process.argv.slice(2))
}
