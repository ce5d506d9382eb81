"""Golden values for src/core/data/augment.ts, computed by PyTorch tensor ops written the way
torchvision applies them, one transform after another on each image:

  crop       RandomCrop(size, padding=p): F.pad(img, (p, p, p, p)) with zeros, then
             img[..., top:top + h, left:left + w]
  flip       RandomHorizontalFlip: torch.flip(img, [-1]) (the width axis)
  translate  an integer RandomAffine(translate) with fill 0: the image moved by (dy, dx) whole
             pixels, zeros shifted in

Images are NCHW here (PyTorch) and NHWC in the fixture (tfjs). The per-example parameters come
from a fixed numpy seed and are written to the fixture; the test feeds the same ones to
augmentBatch, so the check is of the pixel arithmetic, not of the sampling.

usage: python3 scripts/golden/make_augment_fixtures.py [out.json]   (default test/fixtures/augment-golden.json)
"""
import json, sys
import numpy as np
import torch
import torch.nn.functional as F


def translate(img, dy, dx):
    h, w = img.shape[-2:]
    out = torch.zeros_like(img)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[..., yd, xd] = img[..., ys, xs]
    return out


def reference(x_nhwc, spec, params):
    out = []
    for n, img in enumerate(torch.from_numpy(x_nhwc).permute(0, 3, 1, 2)):
        h, w = img.shape[-2:]
        if 'crop' in spec:
            p = spec['crop']['padding']
            top, left = params['cropY'][n], params['cropX'][n]
            img = F.pad(img, (p, p, p, p))[..., top:top + h, left:left + w]
        if spec.get('flip') and params['flip'][n]:
            img = torch.flip(img, [-1])
        if 'translate' in spec:
            img = translate(img, params['shiftY'][n], params['shiftX'][n])
        out.append(img)
    return torch.stack(out).permute(0, 2, 3, 1).numpy()


def case(rng, name, spec, shape):
    b, h, w, c = shape
    x = rng.integers(1, 256, size=shape).astype(np.float32)  # no zeros: a shifted-in zero is visible
    p = spec.get('crop', {}).get('padding', 0)
    t = spec.get('translate', {}).get('pixels', 0)
    params = {
        'cropY': (rng.integers(0, 2 * p + 1, b) if 'crop' in spec else np.full(b, p)).tolist(),
        'cropX': (rng.integers(0, 2 * p + 1, b) if 'crop' in spec else np.full(b, p)).tolist(),
        'flip': (rng.integers(0, 2, b) if spec.get('flip') else np.zeros(b, int)).tolist(),
        'shiftY': (rng.integers(-t, t + 1, b) if 'translate' in spec else np.zeros(b, int)).tolist(),
        'shiftX': (rng.integers(-t, t + 1, b) if 'translate' in spec else np.zeros(b, int)).tolist(),
    }
    # Every extreme offset at least once, so the edges are exercised.
    if 'crop' in spec:
        params['cropY'][0], params['cropX'][0], params['cropY'][1], params['cropX'][1] = 0, 2 * p, 2 * p, 0
    if 'translate' in spec:
        params['shiftY'][0], params['shiftX'][0], params['shiftY'][1], params['shiftX'][1] = t, -t, -t, t
    expected = reference(x, spec, params)
    return {'name': name, 'spec': spec, 'shape': list(shape), 'x': x.reshape(-1).tolist(), 'params': params,
            'expected': expected.reshape(-1).tolist()}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/augment-golden.json'
    rng = np.random.default_rng(15)
    cases = [
        case(rng, 'crop only, grayscale', {'crop': {'padding': 2}}, (6, 5, 7, 1)),
        case(rng, 'flip only, rgb', {'flip': True}, (6, 5, 7, 3)),
        case(rng, 'translate only, grayscale', {'translate': {'pixels': 2}}, (6, 7, 5, 1)),
        case(rng, 'crop, flip and translate, rgb', {'crop': {'padding': 2}, 'flip': True, 'translate': {'pixels': 2}},
             (12, 6, 8, 3)),
    ]
    with open(out, 'w') as f:
        json.dump({'generator': 'scripts/golden/make_augment_fixtures.py', 'cases': cases}, f)
        f.write('\n')
    print(f'wrote {out} ({len(cases)} cases)')


main()
