/** How the training examples of an epoch are described, the same way in the CLI and the dashboard. */
import type { EpochExamples, UnlabeledData } from './events.ts';

const int = (v: number) => v.toLocaleString('en-US');

/** Share of the unlabeled examples that took a pseudo-label, 0..1 (undefined without pseudo-labels). */
export function pseudoLabeledFraction(e: EpochExamples): number | undefined {
  return e.pseudoLabeled === undefined || e.unlabeled === 0 ? undefined : e.pseudoLabeled / e.unlabeled;
}

/** "2,000 labeled + 20,000 unlabeled (14,210 pseudo-labeled, 71.1%)", or "2,000 labeled". */
export function examplesText(e: EpochExamples): string {
  if (e.unlabeled === 0) return `${int(e.labeled)} labeled`;
  const fraction = pseudoLabeledFraction(e);
  const pseudo =
    fraction === undefined ? '' : ` (${int(e.pseudoLabeled!)} pseudo-labeled, ${(fraction * 100).toFixed(1)}%)`;
  return `${int(e.labeled)} labeled + ${int(e.unlabeled)} unlabeled${pseudo}`;
}

/** "20,000 unlabeled from idx /data/unlabeled.gz". */
export function unlabeledText(u: UnlabeledData): string {
  return `${int(u.examples)} unlabeled from ${u.source}`;
}
