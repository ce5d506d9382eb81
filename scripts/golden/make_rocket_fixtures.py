"""Golden values for the `rocket` strategy (src/core/strategies/rocket.ts), computed by PyTorch in float64.

Rocket launching (Zhou et al. 2018), after the authors' zhougr1993/Rocket-Launching
rocket_interval.py, the branch without a pretrained teacher (`opt.gamma`, `opt.param_share`):

    loss_course = gamma * ((y - ys) * (y - ys)).sum() / batchSize
    y_course = Variable(y.data, requires_grad=False) if opt.grad_block else y
    return F.cross_entropy(y, targets) + F.cross_entropy(ys, targets) \\
        + gamma * ((y_course - ys) * (y_course - ys)).sum() / batchSize

with y the booster's logits and ys the light net's, both computed from shared lower layers. Here the
shared part is one dense layer with ReLU (the student's `dense_1`), the light net's own part its
logits layer, the booster's own part a dense layer with ReLU and its logits layer: the models the
test builds from `mlp` architectures with `shared: "dense_1"`. For each case: fixed float32 weights
(kernels stored [in, out], as tfjs), inputs and labels, the loss parts and the gradient of the total
with respect to every weight from autograd. With the gradient block the hint's gradient reaches the
light net and the shared layer only; without it, the booster too.

usage: python3 scripts/golden/make_rocket_fixtures.py [out.json]   (default test/fixtures/rocket-golden.json)
"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F

SEED = 2018
COMMAND = 'python3 scripts/golden/make_rocket_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/rocket-golden.json'

D_IN, SHARED, BOOSTER_HIDDEN, CLASSES, BATCH = 6, 5, 7, 4, 8


def f9(x):
    """9 significant digits: round-trips a float32 exactly."""
    return float(f'{x:.9g}')


def nested(a):
    return [nested(x) for x in a] if isinstance(a, (list, np.ndarray)) and np.ndim(a) > 0 else f9(float(a))


def rocket_loss(x, y, w, gamma, grad_block):
    """The authors' loss on the shared dense + ReLU, the light logits, the booster's dense + ReLU and logits."""
    shared = F.relu(x @ w['dense_1/kernel'] + w['dense_1/bias'])
    ys = shared @ w['logits/kernel'] + w['logits/bias']
    hidden = F.relu(shared @ w['booster_dense_1/kernel'] + w['booster_dense_1/bias'])
    yb = hidden @ w['booster_logits/kernel'] + w['booster_logits/bias']
    y_course = yb.detach() if grad_block else yb
    hard = F.cross_entropy(ys, y)
    booster_hard = F.cross_entropy(yb, y)
    hint = ((y_course - ys) * (y_course - ys)).sum() / x.shape[0]
    total = booster_hard + hard + gamma * hint
    return total, {'hard': hard, 'booster_hard': booster_hard, 'rocket_hint': hint, 'total': total}


def main():
    rng = np.random.default_rng(SEED)
    shapes = {
        'dense_1/kernel': (D_IN, SHARED),
        'dense_1/bias': (SHARED,),
        'logits/kernel': (SHARED, CLASSES),
        'logits/bias': (CLASSES,),
        'booster_dense_1/kernel': (SHARED, BOOSTER_HIDDEN),
        'booster_dense_1/bias': (BOOSTER_HIDDEN,),
        'booster_logits/kernel': (BOOSTER_HIDDEN, CLASSES),
        'booster_logits/bias': (CLASSES,),
    }
    weights32 = {k: rng.normal(0, 0.8, s).astype(np.float32) for k, s in shapes.items()}
    x32 = rng.normal(0, 1, (BATCH, D_IN)).astype(np.float32)
    labels = rng.integers(0, CLASSES, BATCH)
    cases = []
    for name, gamma, grad_block in [('gradient block, the authors\' gamma', 0.03, True),
                                    ('gradient block, gamma 1', 1.0, True),
                                    ('no gradient block, gamma 1', 1.0, False)]:
        w = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in weights32.items()}
        total, parts = rocket_loss(torch.tensor(x32.astype(np.float64)), torch.tensor(labels), w, gamma, grad_block)
        total.backward()
        cases.append({
            'name': name,
            'weight': gamma,
            'gradientBlock': grad_block,
            'values': {k: f9(v.item()) for k, v in parts.items()},
            'grads': {k: nested(v.grad.numpy()) for k, v in w.items()},
        })
    out = {
        'generatedBy': COMMAND,
        'torch': torch.__version__,
        'sizes': {'input': D_IN, 'shared': SHARED, 'boosterHidden': BOOSTER_HIDDEN, 'classes': CLASSES, 'batch': BATCH},
        'x': nested(x32),
        'labels': [int(v) for v in labels],
        'weights': {k: nested(v) for k, v in weights32.items()},
        'cases': cases,
    }
    with open(OUT, 'w') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}: {len(cases)} cases')


if __name__ == '__main__':
    main()
