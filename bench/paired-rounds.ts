/**
 * How every benchmark compares two sides on a shared machine: each round runs every side once, the order
 * rotating from round to round (so no side always runs first, or warm), and the result is the median of the
 * rounds' ratios: a round pairs measurements taken moments apart, so a neighbour's burst moves one pair, not
 * the medians of two sides taken at different moments.
 */

/** Runs each side once per round, rotating which goes first; returns each side's measurements, by round. */
export async function pairedRounds<TSide extends string>(
  rounds: number,
  sides: Readonly<Record<TSide, () => Promise<number>>>,
): Promise<Record<TSide, number[]>> {
  const names = Object.keys(sides) as TSide[]
  const measured = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<TSide, number[]>
  for (let round = 0; round < rounds; round++) {
    for (let turn = 0; turn < names.length; turn++) {
      const name = names[(round + turn) % names.length]!
      measured[name].push(await sides[name]())
    }
  }
  return measured
}

/** The median of the rounds' ratios figure / baseline (higher is better), and every ratio, to show the noise. */
export function pairedRatio(
  figures: readonly number[],
  baselines: readonly number[],
): { ratio: number; rounds: string } {
  const ratios = figures.map((figure, round) => figure / (baselines[round] ?? figure))
  return { ratio: median(ratios), rounds: ratios.map((ratio) => ratio.toFixed(2)).join(' ') }
}

/**
 * Two sides measured as rates (higher is better) over `rounds` rounds (give an even count, so both orders
 * count alike): each side's median rate and the median of the paired ratios.
 */
export async function alternate(
  rounds: number,
  sides: { figure: () => Promise<number>; baseline: () => Promise<number> },
): Promise<{ figure: number; baseline: number; ratio: number; rounds: string }> {
  const { figure, baseline } = await pairedRounds(rounds, sides)
  return { figure: median(figure), baseline: median(baseline), ...pairedRatio(figure, baseline) }
}

/** The middle value; the mean of the two middle values of an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  if (sorted.length % 2 === 1) return sorted[middle] ?? 0
  return ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}
