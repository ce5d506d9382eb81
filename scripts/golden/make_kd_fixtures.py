"""Golden values for src/core/distill/losses.ts from PyTorch (float64): cross-entropy, Hinton's
T²-scaled KL and their alpha-weighted sum, with gradients w.r.t. the student logits.
usage: python3 scripts/golden/make_kd_fixtures.py"""
import json, sys, numpy as np, torch, torch.nn.functional as F

rng = np.random.default_rng(2015)
specs = [  # batch, classes, T, alpha, logit scale
    (4, 10, 1.0, 0.5, 2.0), (8, 10, 4.0, 0.1, 3.0), (3, 5, 20.0, 0.9, 2.0),
    (6, 10, 2.0, 0.5, 50.0),  # large logits: numerical stability
    (5, 7, 3.0, 0.0, 1.0), (5, 7, 3.0, 1.0, 1.0), (128, 10, 2.0, 0.5, 4.0),
]
cases = []
for b, k, T, alpha, scale in specs:
    s = (rng.normal(size=(b, k)) * scale).astype(np.float32)
    t = (rng.normal(size=(b, k)) * scale).astype(np.float32)
    y = rng.integers(0, k, size=b)
    out = {'batch': b, 'classes': k, 'temperature': T, 'alpha': alpha, 'student': s.tolist(), 'teacher': t.tolist(), 'labels': y.tolist()}
    for name in ('hard', 'kd', 'total'):
        st = torch.tensor(s, dtype=torch.float64, requires_grad=True)
        tt = torch.tensor(t, dtype=torch.float64)
        hard = F.cross_entropy(st, torch.tensor(y))
        kd = F.kl_div(F.log_softmax(st / T, 1), F.softmax(tt / T, 1), reduction='batchmean') * T * T
        value = {'hard': hard, 'kd': kd, 'total': alpha * hard + (1 - alpha) * kd}[name]
        value.backward()
        out[name] = float(value.detach())
        out[f'{name}Grad'] = st.grad.numpy().round(12).tolist()
    cases.append(out)
json.dump({'header': {'torch': torch.__version__, 'command': 'python3 scripts/golden/make_kd_fixtures.py'}, 'cases': cases},
          open(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/kd-golden.json', 'w'))
