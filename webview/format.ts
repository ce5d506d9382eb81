/** How the dashboard writes numbers: percentages, counts, sizes, milliseconds. Pure. */
export const pct = (v?: number) => (v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(2)}%`);
export const int = (v?: number) => (v === undefined ? '–' : v.toLocaleString('en-US'));
export const bytes = (b?: number) =>
  b === undefined ? '–' : b < 1024 * 1024 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1024 / 1024).toFixed(2)} MiB`;
export const ms = (v?: number) => (v === undefined ? '–' : v < 1 ? v.toFixed(3) : v.toFixed(2));
export const compact = (v: number) =>
  v >= 1e9
    ? `${+(v / 1e9).toPrecision(3)}B`
    : v >= 1e6
      ? `${+(v / 1e6).toPrecision(3)}M`
      : v >= 1e3
        ? `${+(v / 1e3).toPrecision(3)}k`
        : String(v);
