"""Golden values for src/core/train/optimizer.ts: PyTorch's Adam, AdamW and SGD applied to fixed
parameters and gradients. usage: python3 scripts/golden/make_optimizer_fixtures.py"""
import json, sys, numpy as np, torch

rng = np.random.default_rng(7)
p0 = rng.normal(size=(3, 4)).astype(np.float32)
grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(4)]
lrs = [0.1, 0.05, 0.05, 0.02]  # a schedule: the lr changes between steps
cases = {
    'adam': (torch.optim.Adam, dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0), dict(type='adam', beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.0)),
    'adam_l2': (torch.optim.Adam, dict(betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), dict(type='adam', beta1=0.8, beta2=0.99, epsilon=1e-6, weightDecay=0.1)),
    'adamw': (torch.optim.AdamW, dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05), dict(type='adamw', beta1=0.9, beta2=0.999, epsilon=1e-8, weightDecay=0.05)),
    'sgd': (torch.optim.SGD, dict(momentum=0.0, weight_decay=0.0), dict(type='sgd', momentum=0.0, nesterov=False, weightDecay=0.0)),
    'sgd_momentum': (torch.optim.SGD, dict(momentum=0.9, weight_decay=0.01), dict(type='sgd', momentum=0.9, nesterov=False, weightDecay=0.01)),
    'sgd_nesterov': (torch.optim.SGD, dict(momentum=0.9, nesterov=True, weight_decay=0.0), dict(type='sgd', momentum=0.9, nesterov=True, weightDecay=0.0)),
}
out = {'header': {'torch': torch.__version__, 'command': 'python3 scripts/golden/make_optimizer_fixtures.py'},
       'p0': p0.tolist(), 'grads': [g.tolist() for g in grads], 'lrs': lrs, 'cases': []}
for name, (cls, kwargs, spec) in cases.items():
    p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    opt = cls([p], lr=lrs[0], **kwargs)
    after = []
    for g, lr in zip(grads, lrs):
        for group in opt.param_groups: group['lr'] = lr
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        after.append([[round(float(v), 10) for v in row] for row in p.detach().numpy()])
    out['cases'].append({'name': name, 'spec': {**spec, 'learningRate': lrs[0]}, 'after': after})
json.dump(out, open(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/optimizer-golden.json', 'w'), indent=1)
