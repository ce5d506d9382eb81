"""Golden values for activation-boundary transfer (Heo et al. 2019), computed by PyTorch in float64.

References, written after the authors' code (bhheo/AB_distillation, as RepDistiller
distiller_zoo/AB.py keeps it):

  criterion_alternative_L2(source, target, margin):
      loss = ((source + margin) ** 2 * ((source > -margin) & (target <= 0)).float() +
              (source - margin) ** 2 * ((source <= margin) & (target > 0)).float())
      return torch.abs(loss).sum()
  the per-layer loss is that divided by the batch size (the authors' further * 3 / 1000 is the
  term's default weight in tfjs, so it is left out here);

  the connector (build_connector): nn.Conv2d(s_channel, t_channel, kernel_size=1, bias=False),
  then nn.BatchNorm2d(t_channel) in training mode (batch statistics, biased variance, eps 1e-5);
  for flat features the same with nn.Linear(bias=False) and nn.BatchNorm1d.

Cases:
  loss:      activationBoundaryLoss(c, t, margin) on fixed float32 inputs; value and d/dc.
             The teacher holds exact zeros (a ReLU output) and values on both sides; the student
             holds values on both sides of +-margin.
  connector: a flat student feature x [N, D] through Linear(D, K, bias=False) with a fixed kernel
             W, BatchNorm1d(K) (weight 1, bias 0, training mode), then the loss; value and d/dW,
             d/dx: the tfjs test runs the connector that studentOutputs.ts builds.

Floats are written with 9 significant digits (a float32 round-trips exactly; checked).

usage: /usr/bin/python3 scripts/golden/make_ab_fixtures.py [out.json]   (default test/fixtures/ab-golden.json)
"""
import json, sys
import numpy as np
import torch

SEED = 2019
COMMAND = '/usr/bin/python3 scripts/golden/make_ab_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/ab-golden.json'


def criterion_alternative_l2(source, target, margin):
    loss = ((source + margin) ** 2 * ((source > -margin) & (target <= 0)).double() +
            (source - margin) ** 2 * ((source <= margin) & (target > 0)).double())
    return torch.abs(loss).sum()


def ab_loss(source, target, margin):
    return criterion_alternative_l2(source, target, margin) / source.shape[0]


def f32(a):
    return np.asarray(a, dtype=np.float32)


def nested(a):
    """A float64 result, to 9 significant digits (5e-10 relative)."""
    a = np.asarray(a, dtype=np.float64)
    return np.asarray([float('%.9g' % v) for v in a.reshape(-1)]).reshape(a.shape).tolist()


def exact32(a):
    """9 significant digits of a float32 array, checked to round-trip."""
    a = f32(a)
    out = np.asarray([float('%.9g' % v) for v in a.reshape(-1)])
    assert np.array_equal(out.astype(np.float32), a.reshape(-1))
    return out.reshape(a.shape).tolist()


def teacher_like(rng, shape):
    t = rng.normal(0, 1, shape)
    t[rng.random(shape) < 0.3] = 0.0  # a ReLU's exact zeros count as inactive
    return f32(t)


rng = np.random.default_rng(SEED)
cases = []
for name, shape, margin in [('flat', (4, 6), 1.0), ('nhwc', (2, 3, 3, 4), 1.0), ('flat, margin 0.5', (5, 3), 0.5)]:
    c = f32(rng.normal(0, 1.5, shape))
    t = teacher_like(rng, shape)
    cs = torch.tensor(c, dtype=torch.float64, requires_grad=True)
    value = ab_loss(cs, torch.tensor(t, dtype=torch.float64), margin)
    value.backward()
    cases.append({
        'fn': 'loss', 'name': name, 'margin': margin,
        'student': exact32(c), 'teacher': exact32(t),
        'value': float(value), 'grad': nested(cs.grad.numpy()),
    })

# The connector, flat: x [N, D] -> Linear(D, K, bias=False) -> BatchNorm1d(K) (train) -> loss.
N, D, K, margin = 6, 5, 4, 1.0
x = f32(rng.normal(0, 1, (N, D)))
w = f32(rng.normal(0, 0.5, (D, K)))  # tfjs dense kernel layout [in, out]; torch's weight is w.T
t = teacher_like(rng, (N, K))
xs = torch.tensor(x, dtype=torch.float64, requires_grad=True)
ws = torch.tensor(w, dtype=torch.float64, requires_grad=True)
bn = torch.nn.BatchNorm1d(K, eps=1e-5).double().train()
value = ab_loss(bn(xs @ ws), torch.tensor(t, dtype=torch.float64), margin)
value.backward()
cases.append({
    'fn': 'connector', 'name': 'flat connector', 'margin': margin,
    'student': exact32(x), 'kernel': exact32(w), 'teacher': exact32(t),
    'value': float(value), 'grad': nested(xs.grad.numpy()), 'kernelGrad': nested(ws.grad.numpy()),
})

with open(OUT, 'w') as f:
    json.dump({'command': COMMAND, 'torch': torch.__version__, 'seed': SEED, 'cases': cases}, f, indent=1)
    f.write('\n')
print(f'wrote {len(cases)} cases to {OUT}')
