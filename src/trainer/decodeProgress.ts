/** The CLI's line while image folders are decoded: "decoding images in <folder>: 12,000 / 60,000". */
import type { DataProgress } from '../core/data/dataset.ts';

const count = (n: number) => n.toLocaleString('en-US');

/**
 * Throttled: on a terminal the line is rewritten in place at most every 200 ms; into a file or
 * pipe (the editor's trainer.log) a line every 5 s, and always the last one of each folder.
 */
export function decodeProgressPrinter(
  out: { write(text: string): unknown; isTTY?: boolean } = process.stderr,
  now: () => number = Date.now,
): DataProgress {
  const interval = out.isTTY ? 200 : 5000;
  let shown = -Infinity;
  let folderShown: string | undefined;
  return (done, total, folder) => {
    const t = now();
    if (folder !== folderShown) {
      folderShown = folder;
      shown = out.isTTY ? -Infinity : t; // a file gets no line for a folder decoded within the interval
    }
    const last = done === total;
    if (!last && t - shown < interval) return;
    shown = t;
    const line = `decoding images in ${folder}: ${count(done)} / ${count(total)}`;
    out.write(out.isTTY ? `\r${line}\x1b[K${last ? '\n' : ''}` : `${line}\n`);
  };
}
