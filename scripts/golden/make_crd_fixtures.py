"""Golden values for CRD (src/core/distill/terms.ts crdLoss, crdMemoryUpdate), computed by PyTorch in float64.

Contrastive representation distillation (Tian et al. 2019), after the authors' HobbitLong/RepDistiller
crd/criterion.py (CRDLoss, ContrastLoss, Embed, Normalize) and crd/memory.py (ContrastMemory), verbatim
except: float64 on the CPU (no .cuda()), and the contrast indices are always passed in (the dataset's
`exact` sampling in the authors' code; the module's own AliasMethod draw is not used), so that the
fixture fixes them. Two consecutive steps on one memory bank: the first sets the normalisation
constants Z and both steps update the memory with momentum, so the second step's loss checks the
update and the constants it keeps.

For each step: the student and teacher features (float32), the example indices and contrast indices,
the loss, and its gradient w.r.t. the student features and both embedding heads' weights (kernels
stored [in, out], as tfjs); after each step both memories. The initial memory is the reference's
uniform(-stdv, stdv) init, stdv = 1 / sqrt(feat_dim / 3), drawn once and stored.

usage: python3 scripts/golden/make_crd_fixtures.py [out.json]   (default test/fixtures/crd-golden.json)
"""
import json, math, sys
import numpy as np
import torch
from torch import nn

SEED = 2019
COMMAND = 'python3 scripts/golden/make_crd_fixtures.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/crd-golden.json'

S_DIM, T_DIM, FEAT_DIM, N_DATA, NCE_K, BATCH = 6, 9, 5, 40, 7, 4
NCE_T, NCE_M = 0.07, 0.5

eps = 1e-7


class ContrastMemory(nn.Module):
    def __init__(self, inputSize, outputSize, K, T=0.07, momentum=0.5, init=None):
        super(ContrastMemory, self).__init__()
        self.nLem = outputSize
        self.K = K
        self.register_buffer('params', torch.tensor([K, T, -1, -1, momentum], dtype=torch.float64))
        self.register_buffer('memory_v1', init[0].clone())
        self.register_buffer('memory_v2', init[1].clone())

    def forward(self, v1, v2, y, idx):
        K = int(self.params[0].item())
        T = self.params[1].item()
        Z_v1 = self.params[2].item()
        Z_v2 = self.params[3].item()

        momentum = self.params[4].item()
        batchSize = v1.size(0)
        outputSize = self.memory_v1.size(0)
        inputSize = self.memory_v1.size(1)

        # sample
        weight_v1 = torch.index_select(self.memory_v1, 0, idx.view(-1)).detach()
        weight_v1 = weight_v1.view(batchSize, K + 1, inputSize)
        out_v2 = torch.bmm(weight_v1, v2.view(batchSize, inputSize, 1))
        out_v2 = torch.exp(torch.div(out_v2, T))
        # sample
        weight_v2 = torch.index_select(self.memory_v2, 0, idx.view(-1)).detach()
        weight_v2 = weight_v2.view(batchSize, K + 1, inputSize)
        out_v1 = torch.bmm(weight_v2, v1.view(batchSize, inputSize, 1))
        out_v1 = torch.exp(torch.div(out_v1, T))

        # set Z if haven't been set yet
        if Z_v1 < 0:
            self.params[2] = out_v1.mean() * outputSize
            Z_v1 = self.params[2].clone().detach().item()
        if Z_v2 < 0:
            self.params[3] = out_v2.mean() * outputSize
            Z_v2 = self.params[3].clone().detach().item()

        # compute out_v1, out_v2
        out_v1 = torch.div(out_v1, Z_v1).contiguous()
        out_v2 = torch.div(out_v2, Z_v2).contiguous()

        # update memory
        with torch.no_grad():
            l_pos = torch.index_select(self.memory_v1, 0, y.view(-1))
            l_pos.mul_(momentum)
            l_pos.add_(torch.mul(v1, 1 - momentum))
            l_norm = l_pos.pow(2).sum(1, keepdim=True).pow(0.5)
            updated_v1 = l_pos.div(l_norm)
            self.memory_v1.index_copy_(0, y, updated_v1)

            ab_pos = torch.index_select(self.memory_v2, 0, y.view(-1))
            ab_pos.mul_(momentum)
            ab_pos.add_(torch.mul(v2, 1 - momentum))
            ab_norm = ab_pos.pow(2).sum(1, keepdim=True).pow(0.5)
            updated_v2 = ab_pos.div(ab_norm)
            self.memory_v2.index_copy_(0, y, updated_v2)

        return out_v1, out_v2


class ContrastLoss(nn.Module):
    def __init__(self, n_data):
        super(ContrastLoss, self).__init__()
        self.n_data = n_data

    def forward(self, x):
        bsz = x.shape[0]
        m = x.size(1) - 1
        Pn = 1 / float(self.n_data)
        P_pos = x.select(1, 0)
        log_D1 = torch.div(P_pos, P_pos.add(m * Pn + eps)).log_()
        P_neg = x.narrow(1, 1, m)
        log_D0 = torch.div(P_neg.clone().fill_(m * Pn), P_neg.add(m * Pn + eps)).log_()
        loss = - (log_D1.sum(0) + log_D0.view(-1, 1).sum(0)) / bsz
        return loss


class Normalize(nn.Module):
    def __init__(self, power=2):
        super(Normalize, self).__init__()
        self.power = power

    def forward(self, x):
        norm = x.pow(self.power).sum(1, keepdim=True).pow(1. / self.power)
        return x.div(norm)


class Embed(nn.Module):
    def __init__(self, dim_in, dim_out):
        super(Embed, self).__init__()
        self.linear = nn.Linear(dim_in, dim_out).double()
        self.l2norm = Normalize(2)

    def forward(self, x):
        x = x.view(x.shape[0], -1)
        x = self.linear(x)
        return self.l2norm(x)


class CRDLoss(nn.Module):
    def __init__(self, init):
        super(CRDLoss, self).__init__()
        self.embed_s = Embed(S_DIM, FEAT_DIM)
        self.embed_t = Embed(T_DIM, FEAT_DIM)
        self.contrast = ContrastMemory(FEAT_DIM, N_DATA, NCE_K, NCE_T, NCE_M, init)
        self.criterion_t = ContrastLoss(N_DATA)
        self.criterion_s = ContrastLoss(N_DATA)

    def forward(self, f_s, f_t, idx, contrast_idx=None):
        f_s = self.embed_s(f_s)
        f_t = self.embed_t(f_t)
        out_s, out_t = self.contrast(f_s, f_t, idx, contrast_idx)
        s_loss = self.criterion_s(out_s)
        t_loss = self.criterion_t(out_t)
        return s_loss + t_loss


def f9(x):
    return float(f'{x:.9g}')


def nested(a):
    return [nested(x) for x in a] if isinstance(a, (list, np.ndarray)) and np.ndim(a) > 0 else f9(float(a))


def f32(a):
    return a.astype(np.float32)


def main():
    rng = np.random.default_rng(SEED)
    stdv = 1. / math.sqrt(FEAT_DIM / 3)
    memory32 = [f32(rng.uniform(-stdv, stdv, (N_DATA, FEAT_DIM))) for _ in range(2)]
    heads32 = {
        'student/kernel': f32(rng.normal(0, 0.5, (S_DIM, FEAT_DIM))),
        'student/bias': f32(rng.normal(0, 0.1, FEAT_DIM)),
        'teacher/kernel': f32(rng.normal(0, 0.5, (T_DIM, FEAT_DIM))),
        'teacher/bias': f32(rng.normal(0, 0.1, FEAT_DIM)),
    }
    crd = CRDLoss([torch.tensor(m.astype(np.float64)) for m in memory32])
    with torch.no_grad():
        crd.embed_s.linear.weight.copy_(torch.tensor(heads32['student/kernel'].T.astype(np.float64)))
        crd.embed_s.linear.bias.copy_(torch.tensor(heads32['student/bias'].astype(np.float64)))
        crd.embed_t.linear.weight.copy_(torch.tensor(heads32['teacher/kernel'].T.astype(np.float64)))
        crd.embed_t.linear.bias.copy_(torch.tensor(heads32['teacher/bias'].astype(np.float64)))
    steps = []
    order = rng.permutation(N_DATA)
    for step in range(2):
        idx = order[step * BATCH:(step + 1) * BATCH]
        negatives = rng.integers(0, N_DATA, (BATCH, NCE_K))
        contrast = np.concatenate([idx[:, None], negatives], 1)
        f_s32 = f32(rng.normal(0, 1, (BATCH, S_DIM)))
        f_t32 = f32(rng.normal(0, 1, (BATCH, T_DIM)))
        f_s = torch.tensor(f_s32.astype(np.float64), requires_grad=True)
        f_t = torch.tensor(f_t32.astype(np.float64))
        crd.zero_grad()
        loss = crd(f_s, f_t, torch.tensor(idx), torch.tensor(contrast))
        loss.backward()
        steps.append({
            'rows': [int(v) for v in idx],
            'contrast': contrast.tolist(),
            'student': nested(f_s32),
            'teacher': nested(f_t32),
            'loss': f9(loss.item()),
            'z': [f9(crd.contrast.params[2].item()), f9(crd.contrast.params[3].item())],
            'grads': {
                'student': nested(f_s.grad.numpy()),
                'student/kernel': nested(crd.embed_s.linear.weight.grad.numpy().T),
                'student/bias': nested(crd.embed_s.linear.bias.grad.numpy()),
                'teacher/kernel': nested(crd.embed_t.linear.weight.grad.numpy().T),
                'teacher/bias': nested(crd.embed_t.linear.bias.grad.numpy()),
            },
            'memoryAfter': [nested(crd.contrast.memory_v1.numpy()), nested(crd.contrast.memory_v2.numpy())],
        })
    out = {
        'generatedBy': COMMAND,
        'torch': torch.__version__,
        'sizes': {'student': S_DIM, 'teacher': T_DIM, 'featureDim': FEAT_DIM, 'nData': N_DATA,
                  'negatives': NCE_K, 'batch': BATCH},
        'temperature': NCE_T,
        'momentum': NCE_M,
        'memory': [nested(m) for m in memory32],
        'heads': {k: nested(v) for k, v in heads32.items()},
        'steps': steps,
    }
    with open(OUT, 'w') as f:
        json.dump(out, f)
        f.write('\n')
    print(f'wrote {OUT}: {len(steps)} steps, losses {[s["loss"] for s in steps]}, Z {steps[0]["z"]}')


if __name__ == '__main__':
    main()
