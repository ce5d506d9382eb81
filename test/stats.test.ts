import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  logGamma,
  mean,
  meanSd,
  pairedInterval,
  regularizedIncompleteBeta,
  sampleSd,
  studentTCdf,
  studentTQuantile,
} from '../src/core/stats.ts';

// Fixtures: python3 scripts/golden/make_stats_fixtures.py (scipy, float64).
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'stats-golden.json'), 'utf8')) as {
  quantiles: Array<{ p: number; df: number; t: number }>;
  cdf: Array<{ t: number; df: number; p: number }>;
  beta: Array<{ x: number; a: number; b: number; value: number }>;
  gammaln: Array<{ x: number; value: number }>;
  intervals: Array<{
    treated: number[];
    baseline: number[];
    level: number;
    mean: number;
    sd: number;
    low: number;
    high: number;
  }>;
  samples: Array<{ xs: number[]; mean: number; sd: number | null }>;
};

/** |got - want| within `rel` of |want| (and `abs` near zero). */
function close(got: number, want: number, rel: number, what: string, abs = 1e-300): void {
  const err = Math.abs(got - want);
  assert.ok(err <= Math.max(rel * Math.abs(want), abs), `${what}: got ${got}, scipy ${want} (error ${err})`);
}

// scipy's ppf itself is off by ~1e-11 relative near p = 0.5 (t.ppf(0.5005, 4); mpmath agrees with ours).
test("Student's t quantiles match scipy.stats.t.ppf to 1e-10 relative, df from 0.5 to 1000", () => {
  assert.ok(golden.quantiles.length > 150);
  for (const { p, df, t } of golden.quantiles) close(studentTQuantile(p, df), t, 1e-10, `t(${p}, df=${df})`);
});

test("Student's t CDF matches scipy.stats.t.cdf, tails included", () => {
  // Relative error, so a tail of 1e-10 (df 1000, t -6.3) must keep its digits.
  for (const { t, df, p } of golden.cdf) close(studentTCdf(t, df), p, 1e-12, `cdf(${t}, df=${df})`);
});

test('the regularized incomplete beta and ln Γ match scipy.special', () => {
  for (const { x, a, b, value } of golden.beta)
    close(regularizedIncompleteBeta(x, a, b), value, 1e-11, `I_${x}(${a}, ${b})`, 1e-16);
  for (const { x, value } of golden.gammaln) close(logGamma(x), value, 1e-13, `lnΓ(${x})`, 1e-14);
});

test('the quantile inverts the CDF, and the familiar table values come out', () => {
  for (const df of [1, 2, 4, 9, 29])
    for (const p of [0.001, 0.2, 0.8, 0.975]) close(studentTCdf(studentTQuantile(p, df), df), p, 1e-12, `df ${df}`);
  close(studentTQuantile(0.975, 2), 4.302652729749462, 1e-12, 't_{.975,2}');
  close(studentTQuantile(0.975, 1), 12.706204736174694, 1e-12, 't_{.975,1}');
  assert.equal(studentTQuantile(0.5, 3), 0);
  assert.equal(studentTQuantile(1, 3), Infinity);
  assert.throws(() => studentTQuantile(1.2, 3), /0 <= p <= 1/);
  assert.throws(() => studentTQuantile(0.9, 0), /df > 0/);
});

test('mean and sample sd (n - 1) match numpy, including nearly equal large values', () => {
  for (const { xs, mean: m, sd } of golden.samples) {
    close(mean(xs), m, 1e-15, `mean of ${xs.length}`);
    const got = sampleSd(xs);
    if (sd === null) assert.equal(got, null);
    else close(got!, sd, 1e-6, `sd of ${xs.length}`);
    assert.deepEqual(meanSd(xs), { mean: mean(xs), sd: got, n: xs.length });
  }
  assert.throws(() => mean([]), /no values/);
});

test('the paired-t interval matches scipy.stats.t.interval on the paired differences', () => {
  for (const c of golden.intervals) {
    const got = pairedInterval(c.treated, c.baseline, c.level);
    const what = `n=${c.treated.length}, level ${c.level}`;
    close(got.mean, c.mean, 1e-12, `${what}: mean`, 1e-15);
    close(got.low!, c.low, 1e-9, `${what}: low`, 1e-14);
    close(got.high!, c.high, 1e-9, `${what}: high`, 1e-14);
    assert.equal(got.n, c.treated.length);
    assert.equal(got.method, 'paired-t');
    assert.equal(got.includesZero, c.low <= 0 && c.high >= 0, what);
  }
  // The three Fashion-MNIST seeds of the design notes: a gain of +0.73 points whose 95 % interval includes zero.
  const threeSeeds = pairedInterval([0.812, 0.814, 0.818], [0.806, 0.8, 0.816]);
  assert.ok(threeSeeds.includesZero && threeSeeds.low! < 0 && threeSeeds.high! > 0);
});

test('one pair has no interval and counts as not established; unequal lengths are refused', () => {
  assert.deepEqual(pairedInterval([0.9], [0.8]), {
    mean: 0.9 - 0.8,
    low: null,
    high: null,
    level: 0.95,
    n: 1,
    method: 'paired-t',
    includesZero: true,
  });
  // Identical gains on every seed: a zero-width interval away from zero is established.
  const same = pairedInterval([0.9, 0.8, 0.7], [0.85, 0.75, 0.65]);
  assert.ok(!same.includesZero && Math.abs(same.high! - same.low!) < 1e-12);
  assert.throws(() => pairedInterval([1, 2], [1]), /equal lengths/);
});
