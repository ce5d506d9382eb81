"""Golden values for src/core/distill/terms.ts, computed by PyTorch in float64.

For each case: fixed float32 inputs (student and teacher logits or features, int labels) drawn from a
fixed numpy seed, the reference loss written as close as possible to the code it cites (below), its
value, and its gradient w.r.t. the student input from autograd (teacher inputs are constants, as
under the references' torch.no_grad()). The float32 inputs are exact in float64, so the references
are the exact maths on the very inputs the tfjs test feeds to its float32 kernels, to about 1e-15.

  kdDivergence               Hinton et al. 2015: F.kl_div(F.log_softmax(s/T), F.softmax(t/T), 'batchmean')*T*T,
                             and the reverse KL(p_s || p_t) through log_target=True
  labelSmoothedCrossEntropy  F.cross_entropy(logits, y, label_smoothing=eps)
  hintLoss                   FitNets: F.mse_loss(s, t); (1 - F.cosine_similarity(s.flatten(1), t.flatten(1), eps=1e-8)).mean()
  attentionLoss              szagoruyko/attention-transfer utils.py at / at_loss (NCHW there; the
                             fixtures hold NHWC, as tfjs, and are permuted here)
  rkdDistanceLoss/AngleLoss  lenscloth/RKD metric/loss.py pdist, RkdDistance, RKdAngle
  dkdParts                   megvii-research/mdistiller mdistiller/distillers/DKD.py dkd_loss, its two parts
  teacherFreeLoss            yuanli2333/Teacher-free-Knowledge-Distillation my_loss_function.py
                             loss_kd_regularization, with reduction batchmean and no multiplier

Floats are written with 9 significant digits: enough to round-trip a float32 input exactly (the
script checks it) and 5e-10 relative on the references, far below the test's float32 tolerance.

usage: python3 scripts/golden/make_term_fixtures.py [out.json]   (default test/fixtures/terms-golden.json)
"""
import json, math, re, sys
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 2022
COMMAND = 'python3 scripts/golden/make_term_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/terms-golden.json'


# ---------------------------------------------------------------------------------------------
# References (float64 tensors in, scalar out).

def kd_divergence(s, t, T, divergence):
    if divergence == 'forward':
        return F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='batchmean') * T * T
    return F.kl_div(F.log_softmax(t / T, 1), F.log_softmax(s / T, 1), reduction='batchmean', log_target=True) * T * T


def label_smoothed_ce(logits, y, eps):
    return F.cross_entropy(logits, y, label_smoothing=eps)


def hint_loss(s, t, distance):
    if distance == 'mse':
        return F.mse_loss(s, t)
    return (1 - F.cosine_similarity(s.flatten(1), t.flatten(1), dim=1, eps=1e-8)).mean()


# szagoruyko/attention-transfer utils.py (x is NCHW):
#   def at(x): return F.normalize(x.pow(2).mean(1).view(x.size(0), -1))
#   def at_loss(x, y): return (at(x) - at(y)).pow(2).mean()
# generalised to the paper's |x|^p (p = 2 is the reference's x.pow(2), used as is).
def at(x, p):
    a = x.pow(2) if p == 2 else x.abs().pow(p)
    return F.normalize(a.mean(1).view(x.size(0), -1))


def at_loss(x, y, p):
    return (at(x, p) - at(y, p)).pow(2).mean()


def nhwc_to_nchw(x):
    return x.permute(0, 3, 1, 2)


# lenscloth/RKD metric/utils.py pdist and metric/loss.py RkdDistance, RKdAngle, verbatim except
# reduction='mean' for the 'elementwise_mean' of the PyTorch 0.4 era (the same reduction, renamed).
def pdist(e, squared=False, eps=1e-12):
    e_square = e.pow(2).sum(dim=1)
    prod = e @ e.t()
    res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * prod).clamp(min=eps)

    if not squared:
        res = res.sqrt()

    res = res.clone()
    res[range(len(e)), range(len(e))] = 0
    return res


def rkd_distance(student, teacher):
    with torch.no_grad():
        t_d = pdist(teacher, squared=False)
        mean_td = t_d[t_d > 0].mean()
        t_d = t_d / mean_td

    d = pdist(student, squared=False)
    mean_d = d[d > 0].mean()
    d = d / mean_d

    loss = F.smooth_l1_loss(d, t_d, reduction='mean')
    return loss


def rkd_angle(student, teacher):
    # N x C
    # N x N x C

    with torch.no_grad():
        td = (teacher.unsqueeze(0) - teacher.unsqueeze(1))
        norm_td = F.normalize(td, p=2, dim=2)
        t_angle = torch.bmm(norm_td, norm_td.transpose(1, 2)).view(-1)

    sd = (student.unsqueeze(0) - student.unsqueeze(1))
    norm_sd = F.normalize(sd, p=2, dim=2)
    s_angle = torch.bmm(norm_sd, norm_sd.transpose(1, 2)).view(-1)

    loss = F.smooth_l1_loss(s_angle, t_angle, reduction='mean')
    return loss


# megvii-research/mdistiller mdistiller/distillers/DKD.py, verbatim except that dkd_loss returns its
# two parts unweighted (the reference returns alpha * tckd_loss + beta * nckd_loss) and
# size_average=False is spelled reduction='sum' (its meaning; size_average is deprecated).
def _get_gt_mask(logits, target):
    target = target.reshape(-1)
    mask = torch.zeros_like(logits).scatter_(1, target.unsqueeze(1), 1).bool()
    return mask


def _get_other_mask(logits, target):
    target = target.reshape(-1)
    mask = torch.ones_like(logits).scatter_(1, target.unsqueeze(1), 0).bool()
    return mask


def cat_mask(t, mask1, mask2):
    t1 = (t * mask1).sum(dim=1, keepdims=True)
    t2 = (t * mask2).sum(1, keepdims=True)
    rt = torch.cat([t1, t2], dim=1)
    return rt


def dkd_parts(logits_student, logits_teacher, target, temperature):
    gt_mask = _get_gt_mask(logits_student, target)
    other_mask = _get_other_mask(logits_student, target)
    pred_student = F.softmax(logits_student / temperature, dim=1)
    pred_teacher = F.softmax(logits_teacher / temperature, dim=1)
    pred_student = cat_mask(pred_student, gt_mask, other_mask)
    pred_teacher = cat_mask(pred_teacher, gt_mask, other_mask)
    log_pred_student = torch.log(pred_student)
    tckd_loss = (
        F.kl_div(log_pred_student, pred_teacher, reduction='sum')
        * (temperature**2)
        / target.shape[0]
    )
    pred_teacher_part2 = F.softmax(
        logits_teacher / temperature - 1000.0 * gt_mask, dim=1
    )
    log_pred_student_part2 = F.log_softmax(
        logits_student / temperature - 1000.0 * gt_mask, dim=1
    )
    nckd_loss = (
        F.kl_div(log_pred_student_part2, pred_teacher_part2, reduction='sum')
        * (temperature**2)
        / target.shape[0]
    )
    return tckd_loss, nckd_loss


# yuanli2333/Teacher-free-Knowledge-Distillation my_loss_function.py loss_kd_regularization: the
# virtual teacher and KL term of the authors' code, with correct_prob a parameter (0.99 there), no
# .cuda(), reduction='batchmean' where they use nn.KLDivLoss()'s element mean, and without
# params.multiplier and the CE mixing.
def teacher_free(outputs, labels, T, correct_prob):
    K = outputs.size(1)

    teacher_soft = torch.ones_like(outputs)
    teacher_soft = teacher_soft*(1-correct_prob)/(K-1)  # p^d(k)
    for i in range(outputs.shape[0]):
        teacher_soft[i ,labels[i]] = correct_prob
    loss_soft_regu = nn.KLDivLoss(reduction='batchmean')(F.log_softmax(outputs, dim=1), F.softmax(teacher_soft/T, dim=1))
    return loss_soft_regu


# ---------------------------------------------------------------------------------------------
# Fixtures.

def f9(x):
    x = float(x)
    assert math.isfinite(x), x
    return float(f'{x:.9g}')


def nested(a):
    """A float array as nested lists of 9-significant-digit floats."""
    a = np.asarray(a, dtype=np.float64)
    return f9(a) if a.ndim == 0 else [nested(v) for v in a]


def as_input(a):
    """float32 array -> nested lists that read back as float32 give the very same array."""
    a = np.asarray(a, dtype=np.float32)
    out = nested(a)
    assert np.array_equal(np.array(out, dtype=np.float32), a), 'inputs must round-trip through 9 digits'
    return out


def t64(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def evaluate(fn, student, parts):
    """Values and student gradients of the named scalar outputs of fn(student tensor)."""
    values, grads = {}, {}
    for name in parts:
        s = t64(student, grad=True)
        out = fn(s)
        value = out[name] if isinstance(out, dict) else out
        (g,) = torch.autograd.grad(value, s)
        values[name] = f9(value.item())
        grads[name] = nested(g.numpy())
    return values, grads


rng = np.random.default_rng(SEED)


def normal(shape, std, mean=0.0):
    return (rng.normal(size=shape) * std + mean).astype(np.float32)


def labels(b, k):
    return rng.integers(0, k, size=b).astype(np.int64)


def main():
    cases = []

    def add(fn, name, params, student, teacher=None, y=None, parts=('loss',), extra=None):
        case = {'fn': fn, 'name': name, 'params': params, 'student': as_input(student)}
        if teacher is not None:
            case['teacher'] = as_input(teacher)
        if y is not None:
            case['labels'] = [int(v) for v in y]
        values, grads = evaluate(extra['ref'], student, parts)
        case['values'] = values
        case['grads'] = grads
        for key, val in extra.items():
            if key != 'ref':
                case[key] = val
        cases.append(case)

    # kdDivergence: each input pair both ways, so the test can see that forward and reverse differ.
    for name, b, k, T, s_std, t_std in [
        ('basic T1', 4, 10, 1.0, 2.0, 2.0),
        ('T4', 8, 10, 4.0, 3.0, 3.0),
        ('T20', 3, 5, 20.0, 2.0, 2.0),
        ('sharpening T<1', 4, 6, 0.5, 2.0, 2.0),
        ('large logits T1', 6, 10, 1.0, 30.0, 30.0),  # |logits| up to ~80: needs a stable log-softmax
        ('large logits T4', 6, 10, 4.0, 30.0, 30.0),
        ('confident teacher', 5, 10, 1.0, 1.0, 40.0),  # float32 teacher probabilities underflow: 0 * log 0 (forward)
        ('confident student', 5, 10, 1.0, 40.0, 1.0),  # float32 student probabilities underflow: 0 * log 0 (reverse)
        ('binary', 5, 2, 3.0, 2.0, 2.0),
        ('student equals teacher', 4, 10, 2.0, 2.0, None),  # 0 and gradient 0 both ways
    ]:
        s = normal((b, k), s_std)
        t = s.copy() if t_std is None else normal((b, k), t_std)
        for div in ('forward', 'reverse'):
            add('kdDivergence', f'{name} {div}', {'temperature': T, 'divergence': div}, s, t,
                extra={'ref': lambda x, t=t, T=T, div=div: kd_divergence(x, t64(t), T, div)})

    # labelSmoothedCrossEntropy
    for name, b, k, eps, std in [
        ('eps 0 (plain CE)', 4, 10, 0.0, 2.0),
        ('eps 0.1', 4, 10, 0.1, 2.0),
        ('eps 1 (uniform target)', 4, 10, 1.0, 2.0),
        ('eps 0.1 large logits', 6, 10, 0.1, 30.0),
        ('eps 0.2 binary', 5, 2, 0.2, 2.0),
    ]:
        s, y = normal((b, k), std), labels(b, k)
        add('labelSmoothedCrossEntropy', name, {'epsilon': eps}, s, y=y,
            extra={'ref': lambda x, y=y, eps=eps: label_smoothed_ce(x, torch.tensor(y), eps)})

    # hintLoss (rank-4 features are NHWC, but neither distance depends on the layout)
    for name, shape, dist, how in [
        ('mse rank 2', (4, 16), 'mse', 'random'),
        ('mse rank 4', (2, 3, 3, 4), 'mse', 'random'),
        ('mse student equals teacher', (3, 8), 'mse', 'equal'),
        ('cosine rank 2', (4, 16), 'cosine', 'random'),
        ('cosine rank 4', (2, 4, 4, 3), 'cosine', 'random'),
        ('cosine teacher = 3 x student', (3, 12), 'cosine', 'scaled'),  # scale-invariant: 0, gradient ~0
        ('cosine student equals teacher', (3, 12), 'cosine', 'equal'),
        ('cosine all-zero student', (1, 6), 'cosine', 'zero'),  # cos = 0; gradient t / (1e-8 |t|)
    ]:
        s = normal(shape, 1.5)
        t = {'random': lambda: normal(shape, 1.5), 'equal': lambda: s.copy(), 'scaled': lambda: s * np.float32(3),
             'zero': lambda: normal(shape, 1.5)}[how]()
        if how == 'zero':
            s = np.zeros(shape, dtype=np.float32)
        add('hintLoss', name, {'distance': dist}, s, t,
            extra={'ref': lambda x, t=t, dist=dist: hint_loss(x, t64(t), dist)})

    # attentionLoss (NHWC fixtures; the reference is NCHW)
    for name, s_shape, t_channels, p, how in [
        ('p2', (3, 4, 4, 3), 5, 2, 'random'),
        ('p2 6x6, 2 vs 6 channels', (2, 6, 6, 2), 6, 2, 'random'),
        ('p1', (3, 4, 4, 3), 3, 1, 'random'),
        ('p3, 4 vs 2 channels', (2, 3, 5, 4), 2, 3, 'random'),
        ('p2 relu features, one dead sample', (3, 4, 4, 3), 4, 2, 'relu'),  # all-zero map: F.normalize's eps
        ('p1 relu features', (3, 4, 4, 3), 4, 1, 'relu'),  # exact zeros: |x| has gradient 0 there
        ('student equals teacher', (2, 4, 4, 3), 3, 2, 'equal'),
    ]:
        s = normal(s_shape, 1.0)
        t = normal(s_shape[:3] + (t_channels,), 2.0)
        if how == 'relu':
            s, t = np.maximum(s, 0), np.maximum(t, 0)
            s[0] = 0
        if how == 'equal':
            t = s.copy()
        s_map = at(nhwc_to_nchw(t64(s)), p)
        add('attentionLoss', name, {'p': p}, s, t,
            extra={'ref': lambda x, t=t, p=p: at_loss(nhwc_to_nchw(x), nhwc_to_nchw(t64(t)), p),
                   'studentMap': nested(s_map.numpy())})

    # RKD: distance and angle on the same inputs.
    for name, n, ds, dt, how in [
        ('N3', 3, 4, 4, 'random'),
        ('N6 D5 vs D7', 6, 5, 7, 'random'),
        ('N8 D16, teacher 10x larger', 8, 16, 16, 'scaled-random'),
        ('N6 D2 (angles differ by more than 1)', 6, 2, 2, 'random'),
        ('N8 offset embeddings (post-ReLU like)', 8, 6, 6, 'offset'),
        ('N6 teacher with an outlier', 6, 4, 4, 'outlier'),
        ('student = 5 x teacher', 5, 4, 4, 'scaled'),  # both normalised: 0, gradient ~0
        ('batch 64', 64, 4, 4, 'random'),
    ]:
        s = normal((n, ds), 1.0)
        t = normal((n, dt), 1.0)
        if how == 'scaled-random':
            t = t * np.float32(10)
        if how == 'offset':
            s = np.abs(normal((n, ds), 1.0, 8.0))
            t = np.abs(normal((n, dt), 1.0, 8.0))
        if how == 'outlier':
            t[0] *= np.float32(20)  # normalised student-teacher distance gaps beyond 1: the linear branch
        if how == 'scaled':
            s = t * np.float32(5)
        for fn, ref in (('rkdDistanceLoss', rkd_distance), ('rkdAngleLoss', rkd_angle)):
            add(fn, name, {}, s, t, extra={'ref': lambda x, t=t, ref=ref: ref(x, t64(t))})

    # dkdParts
    for name, b, k, T, s_std, t_std in [
        ('T4 (mdistiller CIFAR setting)', 4, 10, 4.0, 2.0, 2.0),
        ('T1', 5, 10, 1.0, 2.0, 2.0),
        ('T2 large logits', 4, 10, 2.0, 20.0, 20.0),
        ('confident teacher', 4, 10, 1.0, 1.0, 40.0),
        ('binary (no non-target spread: NCKD = 0)', 5, 2, 2.0, 2.0, 2.0),
        ('student equals teacher', 4, 8, 3.0, 2.0, None),
        ('100 classes', 2, 100, 4.0, 3.0, 3.0),
    ]:
        s = normal((b, k), s_std)
        t = s.copy() if t_std is None else normal((b, k), t_std)
        y = labels(b, k)
        add('dkdParts', name, {'temperature': T}, s, t, y=y, parts=('target', 'nonTarget'),
            extra={'ref': lambda x, t=t, y=y, T=T: dict(zip(('target', 'nonTarget'), dkd_parts(x, t64(t), torch.tensor(y), T)))})

    # teacherFreeLoss
    for name, b, k, T, cp, std in [
        ('T20 p0.99 (paper CIFAR-100 style)', 4, 10, 20.0, 0.99, 2.0),
        ('T1 p0.9', 4, 10, 1.0, 0.9, 2.0),
        ('T0.05 sharp virtual teacher', 4, 10, 0.05, 0.99, 2.0),
        ('T0.005 virtual teacher underflows', 4, 10, 0.005, 0.99, 2.0),  # float32 0 * log 0
        ('binary', 5, 2, 2.0, 0.8, 2.0),
        ('large logits', 4, 10, 6.0, 0.95, 30.0),
    ]:
        s, y = normal((b, k), std), labels(b, k)
        add('teacherFreeLoss', name, {'temperature': T, 'correctProbability': cp}, s, y=y,
            extra={'ref': lambda x, y=y, T=T, cp=cp: teacher_free(x, torch.tensor(y), T, cp)})

    # Sanity of the inputs meant to exercise particular branches.
    def find(fn, name):
        return next(c for c in cases if c['fn'] == fn and c['name'] == name)

    for fn in ('rkdDistanceLoss', 'rkdAngleLoss'):
        for name in ('N6 D2 (angles differ by more than 1)', 'N6 teacher with an outlier'):
            c = find(fn, name)
            s, t = t64(np.array(c['student'], dtype=np.float32)), t64(np.array(c['teacher'], dtype=np.float32))
            if fn == 'rkdDistanceLoss':
                gap = (pdist(s) / pdist(s)[pdist(s) > 0].mean() - pdist(t) / pdist(t)[pdist(t) > 0].mean()).abs().max()
            else:
                ns = F.normalize(s.unsqueeze(0) - s.unsqueeze(1), p=2, dim=2)
                nt = F.normalize(t.unsqueeze(0) - t.unsqueeze(1), p=2, dim=2)
                gap = (torch.bmm(ns, ns.transpose(1, 2)) - torch.bmm(nt, nt.transpose(1, 2))).abs().max()
            c['maxGap'] = f9(gap.item())
    assert find('rkdAngleLoss', 'N6 D2 (angles differ by more than 1)')['maxGap'] > 1
    assert find('rkdDistanceLoss', 'N6 teacher with an outlier')['maxGap'] > 1

    doc = {
        'header': {
            'command': COMMAND,
            'torch': torch.__version__,
            'numpy': np.__version__,
            'seed': SEED,
            'inputs': 'float32 (9 significant digits round-trip exactly), int labels; rank-4 features NHWC',
            'reference': 'float64 PyTorch, the code cited in the script; values[name] = the scalar, '
                         'grads[name] = d values[name] / d student (autograd, teacher constant)',
        },
        'cases': cases,
    }
    text = json.dumps(doc, indent=1)
    # One line per innermost list of numbers (a row of logits, features or gradient, the labels).
    text = re.sub(r'\[\s+([-0-9.eE+,\s]+?)\s+\]', lambda m: '[' + re.sub(r',\s+', ', ', m.group(1)) + ']', text)
    with open(OUT, 'w') as fh:
        fh.write(text + '\n')
    print(f'wrote {len(cases)} cases to {OUT} (torch {torch.__version__})')


if __name__ == '__main__':
    main()
