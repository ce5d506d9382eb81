"""Golden values for multi-teacher KD (src/core/distill/terms.ts multiTeacherKd), PyTorch in float64.

References, written after the CA-MKD authors' train_student.py (Zhang et al. 2022, "Confidence-
Aware Multi-Teacher Knowledge Distillation", ICASSP), where logit_t_list holds the teachers' logits:

  DistillKL(is_ca=True): per example, F.kl_div(F.log_softmax(s/T, 1), F.softmax(t/T, 1),
      reduction='none').sum(1) * T * T
  'AVERAGE_LOSS' (our `fixed` with equal weights): torch.stack([DistillKL(s, t) for t]).mean(0),
      DistillKL with reduction batchmean; with weights w, sum_k w_k / sum(w) * DistillKL(s, t_k)
  'CAMKD' (our `confidence`):
      loss_t = torch.stack([nn.CrossEntropyLoss(reduction='none')(t, target) for t])
      attention = (1.0 - F.softmax(loss_t, dim=0)) / (teacher_num - 1)
      loss_div = torch.stack([DistillKL(s, t, is_ca=True) for t])
      loss_div = (attention * loss_div).sum() / (bsz * teacher_num)
  A row without a label (-1, a transfer set's) gets cross-entropy 0 from every teacher, so equal
  weights: the reference sets its loss_t entries to 0 (torch's CrossEntropyLoss would refuse -1).

Cases: value and gradient w.r.t. the student logits (teachers are constants, torch.no_grad()).
usage: /usr/bin/python3 scripts/golden/make_multi_teacher_fixtures.py [out.json]
       (default test/fixtures/multi-teacher-golden.json)
"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F

SEED = 517
COMMAND = '/usr/bin/python3 scripts/golden/make_multi_teacher_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/multi-teacher-golden.json'


def kl_rows(s, t, T):
    return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='none').sum(1) * T * T


def fixed(s, teachers, T, weights):
    w = torch.tensor(weights, dtype=torch.float64)
    w = w / w.sum()
    return sum(wk * kl_rows(s, t, T).sum() / s.shape[0] for wk, t in zip(w, teachers))


def camkd(s, teachers, y, T):
    labeled = y >= 0
    safe = torch.where(labeled, y, torch.zeros_like(y))
    loss_t = torch.stack([F.cross_entropy(t, safe, reduction='none') * labeled.double() for t in teachers])
    attention = (1.0 - F.softmax(loss_t, dim=0)) / (len(teachers) - 1)
    loss_div = torch.stack([kl_rows(s, t, T) for t in teachers])
    return (attention * loss_div).sum() / (s.shape[0] * len(teachers))


def exact32(a):
    a = np.asarray(a, dtype=np.float32)
    out = np.asarray([float('%.9g' % v) for v in a.reshape(-1)])
    assert np.array_equal(out.astype(np.float32), a.reshape(-1))
    return out.reshape(a.shape).tolist()


def nested(a):
    a = np.asarray(a, dtype=np.float64)
    return np.asarray([float('%.9g' % v) for v in a.reshape(-1)]).reshape(a.shape).tolist()


rng = np.random.default_rng(SEED)
cases = []
N, C = 6, 5
for name, weighting, T, k, weights, unlabeled in [
    ('fixed, equal weights, 3 teachers', 'fixed', 4.0, 3, None, False),
    ('fixed, weights 2:1', 'fixed', 2.0, 2, [2.0, 1.0], False),
    ('confidence, 3 teachers', 'confidence', 4.0, 3, None, False),
    ('confidence, 2 teachers, unlabeled rows', 'confidence', 1.0, 2, None, True),
]:
    s = np.asarray(rng.normal(0, 2, (N, C)), dtype=np.float32)
    teachers = [np.asarray(rng.normal(0, 3, (N, C)), dtype=np.float32) for _ in range(k)]
    y = rng.integers(0, C, N)
    if unlabeled:
        y[[1, 4]] = -1
    ss = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    ts = [torch.tensor(t, dtype=torch.float64) for t in teachers]
    yt = torch.tensor(y, dtype=torch.int64)
    value = fixed(ss, ts, T, weights or [1.0] * k) if weighting == 'fixed' else camkd(ss, ts, yt, T)
    value.backward()
    cases.append({
        'name': name, 'weighting': weighting, 'temperature': T, 'weights': weights,
        'student': exact32(s), 'teachers': [exact32(t) for t in teachers], 'labels': [int(v) for v in y],
        'value': float(value), 'grad': nested(ss.grad.numpy()),
    })

with open(OUT, 'w') as f:
    json.dump({'command': COMMAND, 'torch': torch.__version__, 'seed': SEED, 'cases': cases}, f, indent=1)
    f.write('\n')
print(f'wrote {len(cases)} cases to {OUT}')
