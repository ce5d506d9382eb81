/**
 * What a paired gain's interval says, in words: one wording for the CLI's sweep table
 * (src/trainer/sweepReport.ts) and the sweep dashboard (webview/sweep/model.ts).
 */
import type { PairedInterval } from './sweep.ts';

export const seedsWord = (n: number) => `${n} seed${n === 1 ? '' : 's'}`;

/** Plainly "not established" when the interval includes zero or, with one seed, cannot be computed. */
export function gainVerdict(g: PairedInterval): string {
  if (g.low === null || g.high === null)
    return `with ${seedsWord(g.n)} there is no interval: this gain is not established (run more seeds)`;
  if (g.includesZero) return `the interval includes zero: this gain is not established with ${seedsWord(g.n)}`;
  const sign = g.mean > 0 ? 'a gain' : 'a loss';
  return `the ${Math.round(g.level * 100)} % interval excludes zero: ${sign} over ${seedsWord(g.n)} (it can still be smaller or larger than its mean)`;
}
