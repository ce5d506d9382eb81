/**
 * The statistics of a sweep: mean and sample standard deviation over seeds, Student's t
 * distribution (exact: the regularized incomplete beta function, no table), and the paired-t
 * confidence interval of a gain (distilled minus scratch on the same seed).
 *
 * Checked against scipy (scripts/golden/make_stats_fixtures.py -> test/fixtures/stats-golden.json).
 */
import type { MeanSd, PairedInterval } from '../protocol/sweep.ts';

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean of no values');
  // Welford-style running mean: no overflow for large values and no loss for nearly equal ones.
  let m = 0;
  xs.forEach((x, i) => (m += (x - m) / (i + 1)));
  return m;
}

/** Sample standard deviation (divisor n - 1); null for fewer than two values. */
export function sampleSd(xs: readonly number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) ** 2;
  return Math.sqrt(ss / (xs.length - 1));
}

export function meanSd(xs: readonly number[]): MeanSd {
  return { mean: mean(xs), sd: sampleSd(xs), n: xs.length };
}

// Lanczos approximation (g = 7, 9 terms): relative error below 1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Stirling's error e(x) = ln Γ(x) - ((x - ½) ln x - x + ½ ln 2π): the series for large x, else from ln Γ. */
function stirlingError(x: number): number {
  if (x < 15) return logGamma(x) - ((x - 0.5) * Math.log(x) - x + HALF_LOG_2PI);
  const r = 1 / x;
  const r2 = r * r;
  return r * (1 / 12 - r2 * (1 / 360 - r2 * (1 / 1260 - r2 * (1 / 1680 - r2 * (1 / 1188 - (r2 * 691) / 360360)))));
}

/**
 * ln(x^a y^b / B(a, b)), y = 1 - x. Written out from Stirling's formula so that the large terms of
 * ln Γ(a + b) - ln Γ(a) - ln Γ(b) cancel exactly: with ln Γ itself, a = 500 loses ~1e-10 of the tail.
 */
function logBetaFront(x: number, y: number, a: number, b: number): number {
  const s = a + b;
  // a ln(s x / a) + b ln(s y / b), each log taken as log1p of its small offset from 1.
  const offset = b * x - a * y;
  return (
    a * (Math.abs(offset) < 0.5 * a ? Math.log1p(offset / a) : Math.log((s * x) / a)) +
    b * (Math.abs(offset) < 0.5 * b ? Math.log1p(-offset / b) : Math.log((s * y) / b)) +
    0.5 * Math.log((a * b) / s) -
    HALF_LOG_2PI +
    stirlingError(s) -
    stirlingError(a) -
    stirlingError(b)
  );
}

/** Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a + 1) / (a + b + 2). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) return h;
  }
  throw new Error(`incomplete beta: no convergence for x=${x}, a=${a}, b=${b}`);
}

/** The regularized incomplete beta function I_x(a, b), for 0 <= x <= 1 and a, b > 0. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  return incompleteBeta(x, 1 - x, a, b);
}

/** I_x(a, b) given x and y = 1 - x each computed accurately (1 - x itself loses digits when x is near 1). */
function incompleteBeta(x: number, y: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`incomplete beta needs a, b > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`incomplete beta needs 0 <= x <= 1, got ${x}`);
  if (x === 0 || y === 0) return x === 0 ? 0 : 1;
  const front = Math.exp(logBetaFront(x, y, a, b));
  // The continued fraction converges fast on one side of the mean; use the symmetry on the other.
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(y, b, a)) / b;
}

/**
 * The tail probability P(T > |t|) of Student's t with `df` degrees of freedom: ½ I_x(df/2, ½) with
 * x = df/(df+t²), given with 1 - x = t²/(df+t²) computed on its own (for small t it is tiny).
 */
function upperTail(t: number, df: number): number {
  const t2 = t * t;
  return 0.5 * incompleteBeta(df / (df + t2), t2 / (df + t2), df / 2, 0.5);
}

/** P(T <= t) for Student's t with `df` degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`Student's t needs df > 0, got ${df}`);
  if (Number.isNaN(t)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const tail = upperTail(t, df);
  return t >= 0 ? 1 - tail : tail;
}

/** The density of Student's t with `df` degrees of freedom. */
export function studentTPdf(t: number, df: number): number {
  const logC = logGamma((df + 1) / 2) - logGamma(df / 2) - 0.5 * Math.log(df * Math.PI);
  return Math.exp(logC - ((df + 1) / 2) * Math.log1p((t * t) / df));
}

/**
 * The quantile t_p with P(T <= t_p) = p, by inverting the exact CDF: a bracket by doubling, then
 * Newton steps on the upper tail kept inside the bracket (bisection when a step leaves it).
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`Student's t needs df > 0, got ${df}`);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`a quantile needs 0 <= p <= 1, got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  // Solve upperTail(t) = q for t > 0, q = the smaller tail; the sign follows p.
  const q = p < 0.5 ? p : 1 - p;
  const sign = p < 0.5 ? -1 : 1;
  let lo = 0;
  let hi = 1;
  while (upperTail(hi, df) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return sign * Infinity;
  }
  let t = (lo + hi) / 2;
  for (let i = 0; i < 200; i++) {
    const f = upperTail(t, df) - q; // decreasing in t
    if (f > 0) lo = t;
    else hi = t;
    if (f === 0 || hi - lo <= 4 * Number.EPSILON * hi) break;
    const newton = t + f / studentTPdf(t, df);
    const next = newton > lo && newton < hi ? newton : (lo + hi) / 2;
    if (Math.abs(next - t) <= 2 * Number.EPSILON * t) {
      t = next;
      break;
    }
    t = next;
  }
  return sign * t;
}

/**
 * The paired-t confidence interval of `treated[i] - baseline[i]` (one pair per seed): mean ± t_{(1+level)/2, n-1}
 * · sd / √n. Fewer than two pairs: no interval, and the gain counts as not established.
 */
export function pairedInterval(treated: readonly number[], baseline: readonly number[], level = 0.95): PairedInterval {
  if (treated.length !== baseline.length)
    throw new RangeError(`paired values need equal lengths, got ${treated.length} and ${baseline.length}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`a confidence level is in (0, 1), got ${level}`);
  const diffs = treated.map((x, i) => x - baseline[i]);
  const n = diffs.length;
  const m = mean(diffs);
  const sd = sampleSd(diffs);
  if (sd === null) return { mean: m, low: null, high: null, level, n, method: 'paired-t', includesZero: true };
  const half = (studentTQuantile((1 + level) / 2, n - 1) * sd) / Math.sqrt(n);
  const low = m - half;
  const high = m + half;
  return { mean: m, low, high, level, n, method: 'paired-t', includesZero: low <= 0 && high >= 0 };
}
