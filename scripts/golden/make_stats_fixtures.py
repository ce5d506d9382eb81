"""Golden values for src/core/stats.ts from scipy: Student's t CDF and quantiles, the regularized
incomplete beta function, mean / sample sd, and paired-t confidence intervals.
usage: python3 scripts/golden/make_stats_fixtures.py [out.json]  (python3 with scipy)"""
import json, sys
import numpy as np
import scipy
from scipy import special, stats

rng = np.random.default_rng(14)
dfs = [1, 2, 3, 4, 5, 7, 9, 10, 19, 29, 30, 50, 100, 1000, 0.5, 2.5]
ps = [0.5005, 0.6, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9995, 0.025, 0.001]
quantiles = [{'p': p, 'df': df, 't': float(stats.t.ppf(p, df))} for df in dfs for p in ps]
ts = [-40.0, -6.3, -2.0, -0.5, 0.0, 0.1, 1.0, 2.776, 4.303, 12.7, 300.0]
cdf = [{'t': t, 'df': df, 'p': float(stats.t.cdf(t, df))} for df in dfs for t in ts]
beta = [{'x': x, 'a': a, 'b': b, 'value': float(special.betainc(a, b, x))}
        for (a, b) in [(0.5, 0.5), (1, 1), (2.5, 0.5), (5, 3), (50, 0.5), (0.2, 7), (500, 500)]
        for x in [1e-6, 0.01, 0.2, 0.5, 0.77, 0.99, 0.999999]]
gammaln = [{'x': x, 'value': float(special.gammaln(x))} for x in [0.1, 0.5, 1, 1.5, 2, 3.7, 10, 55.5, 1000]]

def paired(treated, baseline, level):
    d = np.asarray(treated) - np.asarray(baseline)
    n = len(d)
    m = float(d.mean())
    sd = float(d.std(ddof=1))
    low, high = stats.t.interval(level, n - 1, loc=m, scale=sd / np.sqrt(n))
    return {'treated': list(map(float, treated)), 'baseline': list(map(float, baseline)), 'level': level,
            'mean': m, 'sd': sd, 'low': float(low), 'high': float(high)}

# Three Fashion-MNIST seeds measured with PyTorch (scratch 80.6 / 80.0 / 81.6, distilled 81.2 / 81.4 / 81.8), then random ones.
intervals = [paired([0.812, 0.814, 0.818], [0.806, 0.800, 0.816], 0.95)]
for n, level in [(2, 0.95), (3, 0.95), (5, 0.95), (5, 0.9), (8, 0.99), (20, 0.95)]:
    base = rng.uniform(0.7, 0.9, size=n)
    intervals.append(paired(base + rng.normal(0.005, 0.01, size=n), base, level))

samples = []
for n in [1, 2, 3, 7, 30]:
    xs = rng.normal(0.8, 0.05, size=n)
    samples.append({'xs': list(map(float, xs)), 'mean': float(xs.mean()),
                     'sd': float(xs.std(ddof=1)) if n > 1 else None})
# Nearly equal large values: a naive two-pass sum in float32 would lose them.
xs = np.array([1e9 + 0.1, 1e9 + 0.2, 1e9 + 0.3])
samples.append({'xs': list(map(float, xs)), 'mean': float(xs.mean()), 'sd': float(xs.std(ddof=1))})

out = {'header': {'scipy': scipy.__version__, 'numpy': np.__version__,
                  'command': 'python3 scripts/golden/make_stats_fixtures.py'},
       'quantiles': quantiles, 'cdf': cdf, 'beta': beta, 'gammaln': gammaln,
       'intervals': intervals, 'samples': samples}
json.dump(out, open(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/stats-golden.json', 'w'), indent=1)
