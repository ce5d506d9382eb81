"""Golden values for src/core/distill/losses.ts, computed by PyTorch in float64.

For each case: fixed float32 inputs (student logits, teacher logits, int labels) drawn from a fixed
numpy seed, and the reference
    hard  = F.cross_entropy(s, y)
    kd    = F.kl_div(F.log_softmax(s/T, 1), F.softmax(t/T, 1), reduction='batchmean') * T*T
    total = alpha * hard + (1 - alpha) * kd
with d hard/ds, d kd/ds and d total/ds from autograd (the teacher logits are a constant).
The float32 inputs are exact in float64, so the references are the exact maths on the very inputs
the tfjs test feeds to its float32 kernels, to about 1e-15.

Floats are written with 9 significant digits: enough to round-trip a float32 input exactly (the
script checks it) and 5e-10 relative on the references, far below the test's float32 tolerance.

usage: python3 scripts/golden/make_kd_fixtures.py [out.json]   (default test/fixtures/kd-golden.json)
"""
import json, math, re, sys
import numpy as np
import torch
import torch.nn.functional as F

SEED = 2015
COMMAND = 'python3 scripts/golden/make_kd_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/kd-golden.json'

# name, batch, classes, T, alpha, student logit std, teacher logit std
SPECS = [
    ('basic', 4, 10, 1.0, 0.5, 2.0, 2.0),
    ('T4', 8, 10, 4.0, 0.1, 3.0, 3.0),
    ('T20', 3, 5, 20.0, 0.9, 2.0, 2.0),
    ('sharpening T<1', 4, 6, 0.5, 0.3, 2.0, 2.0),
    ('large logits T1', 6, 10, 1.0, 0.5, 30.0, 30.0),  # |logits| up to ~80: needs a stable log-softmax
    ('large logits T4', 6, 10, 4.0, 0.5, 30.0, 30.0),
    ('confident teacher', 5, 10, 1.0, 0.5, 1.0, 40.0),  # teacher probabilities underflow float32: 0 * log 0
    ('alpha0 (pure KD)', 5, 7, 3.0, 0.0, 1.5, 1.5),
    ('alpha1 (pure CE)', 5, 7, 3.0, 1.0, 1.5, 1.5),
    ('binary', 5, 2, 3.0, 0.3, 2.0, 2.0),
    ('student equals teacher', 4, 10, 2.0, 0.5, 2.0, None),  # kd = 0 and d kd/ds = 0 exactly
    ('batch 128', 128, 10, 2.0, 0.5, 4.0, 4.0),
]


def f9(x):
    x = float(x)
    assert math.isfinite(x), x
    return float(f'{x:.9g}')


def terms(s, t, y, T, alpha):
    """The three loss terms and their gradients w.r.t. the student logits, in float64."""
    out = {}
    for name in ('hard', 'kd', 'total'):
        st = torch.tensor(s, dtype=torch.float64, requires_grad=True)
        tt = torch.tensor(t, dtype=torch.float64)
        yt = torch.tensor(y, dtype=torch.int64)
        hard = F.cross_entropy(st, yt)
        kd = F.kl_div(F.log_softmax(st / T, 1), F.softmax(tt / T, 1), reduction='batchmean') * T * T
        value = {'hard': hard, 'kd': kd, 'total': alpha * hard + (1 - alpha) * kd}[name]
        (grad,) = torch.autograd.grad(value, st)
        out[name] = f9(value.item())
        out[f'{name}Grad'] = [[f9(v) for v in row] for row in grad.numpy()]
    return out


def main():
    rng = np.random.default_rng(SEED)
    cases = []
    for name, b, k, T, alpha, s_std, t_std in SPECS:
        s = (rng.normal(size=(b, k)) * s_std).astype(np.float32)
        t = s.copy() if t_std is None else (rng.normal(size=(b, k)) * t_std).astype(np.float32)
        y = rng.integers(0, k, size=b).astype(np.int64)
        student = [[f9(v) for v in row] for row in s]
        teacher = [[f9(v) for v in row] for row in t]
        # 9 significant digits read back as float32 must give the very inputs used below.
        assert np.array_equal(np.array(student, dtype=np.float32), s) and np.array_equal(np.array(teacher, dtype=np.float32), t)
        case = {'name': name, 'batch': b, 'classes': k, 'temperature': T, 'alpha': alpha,
                'labels': [int(v) for v in y], 'student': student, 'teacher': teacher}
        case.update(terms(s, t, y, T, alpha))
        cases.append(case)

    doc = {
        'header': {
            'command': COMMAND,
            'torch': torch.__version__,
            'numpy': np.__version__,
            'seed': SEED,
            'inputs': 'float32 logits (9 significant digits round-trip exactly), int labels',
            'reference': "float64: hard = F.cross_entropy(s, y); kd = F.kl_div(F.log_softmax(s/T, 1), "
                         "F.softmax(t/T, 1), reduction='batchmean') * T*T; total = alpha*hard + (1-alpha)*kd; "
                         "*Grad = d term / d student logits (autograd)",
        },
        'cases': cases,
    }
    text = json.dumps(doc, indent=1)
    # One line per innermost list of numbers (a logits row, a gradient row, the labels).
    text = re.sub(r'\[\s+([-0-9.eE+,\s]+?)\s+\]', lambda m: '[' + re.sub(r',\s+', ', ', m.group(1)) + ']', text)
    with open(OUT, 'w') as fh:
        fh.write(text + '\n')
    print(f'wrote {len(cases)} cases to {OUT} (torch {torch.__version__})')


if __name__ == '__main__':
    main()
