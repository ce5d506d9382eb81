"""Golden weights for deep mutual learning's training step (src/core/strategies/mutual.ts, the
loop's updates in src/core/train/loop.ts), computed by PyTorch in float64.

Two linear models (a student and a peer: logits = x @ W + b) start from fixed float32 weights
and train for two steps of plain SGD on fixed batches, with the hard-label weight `hard` and
label smoothing `eps` on both models' label losses and `weight` on each KL:

  alternating  Zhang et al. 2018, Algorithm 1 (and the authors' and torchdistill's loops): the
               student's loss with the peer's logits detached, its update; then a fresh forward
               pass and the peer's loss with the updated student's logits detached, its update.
  joint        one forward pass; both losses from it (each KL with the other model detached),
               one update of both.

  loss_k = hard * F.cross_entropy(z_k, y, label_smoothing=eps)
           + weight * F.kl_div(F.log_softmax(z_k), F.softmax(z_other), reduction='batchmean')

usage: /usr/bin/python3 scripts/golden/make_mutual_fixtures.py [out.json]   (default test/fixtures/mutual-golden.json)
"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/mutual-golden.json'
rng = np.random.default_rng(2018)
N, D, K = 6, 5, 3
HARD, EPS, WEIGHT, LR, STEPS = 0.5, 0.1, 0.7, 0.5, 2


def f32(a):
    return np.asarray(a, dtype=np.float32)


x = f32(rng.normal(size=(N, D)))
y = rng.integers(0, K, size=N)
init = {
    'student': {'kernel': f32(rng.normal(size=(D, K)) * 0.5), 'bias': f32(rng.normal(size=K) * 0.1)},
    'peer': {'kernel': f32(rng.normal(size=(D, K)) * 0.5), 'bias': f32(rng.normal(size=K) * 0.1)},
}


def params(which):
    return [torch.tensor(init[which][k], dtype=torch.float64, requires_grad=True) for k in ('kernel', 'bias')]


X = torch.tensor(x, dtype=torch.float64)
Y = torch.tensor(y)


def logits(p):
    return X @ p[0] + p[1]


def loss_of(z, other):
    return HARD * F.cross_entropy(z, Y, label_smoothing=EPS) + WEIGHT * F.kl_div(
        F.log_softmax(z, 1), F.softmax(other.detach(), 1), reduction='batchmean'
    )


def sgd(p, loss):
    grads = torch.autograd.grad(loss, p)
    with torch.no_grad():
        for v, g in zip(p, grads):
            v -= LR * g


def run(update):
    s, p = params('student'), params('peer')
    for _ in range(STEPS):
        if update == 'alternating':
            sgd(s, loss_of(logits(s), logits(p)))
            sgd(p, loss_of(logits(p), logits(s)))
        else:
            zs, zp = logits(s), logits(p)
            ls, lp = loss_of(zs, zp), loss_of(zp, zs)
            gs = torch.autograd.grad(ls, s)
            gp = torch.autograd.grad(lp, p)
            with torch.no_grad():
                for v, g in zip(s + p, list(gs) + list(gp)):
                    v -= LR * g
    out = lambda q: {'kernel': q[0].detach().numpy().tolist(), 'bias': q[1].detach().numpy().tolist()}
    return {'student': out(s), 'peer': out(p)}


fixture = {
    'command': '/usr/bin/python3 scripts/golden/make_mutual_fixtures.py',
    'hardWeight': HARD,
    'labelSmoothing': EPS,
    'weight': WEIGHT,
    'learningRate': LR,
    'steps': STEPS,
    'x': x.tolist(),
    'y': y.tolist(),
    'init': {w: {k: v.tolist() for k, v in init[w].items()} for w in init},
    'alternating': run('alternating'),
    'joint': run('joint'),
}
with open(OUT, 'w') as fh:
    json.dump(fixture, fh, indent=1)
    fh.write('\n')
print(f'wrote {OUT}')
