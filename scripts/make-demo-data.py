"""Writes the embedded demo data, media/demo/data/: a class-balanced subset of Fashion-MNIST
(the first 400 training and 200 test images of each class, kept in the original file order) as
IDX .gz files with the standard names, byte-reproducible (gzip mtime 0, no file name, level 9).
Source: Debian's dataset-fashion-mnist package (/usr/share/datasets/fashion-mnist).

usage: python3 scripts/make-demo-data.py [source folder] [output folder]

The demo teacher (media/demo/teacher) was trained on these exact bytes: rerunning this script must
leave the files unchanged (git status clean), and test/data-idx.test.ts checks the subset against
the full set when the Debian package is installed."""
import gzip, os, struct, sys
import numpy as np

PER_CLASS = {'train': 400, 't10k': 200}
src = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/datasets/fashion-mnist'
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'media', 'demo', 'data')
os.makedirs(out, exist_ok=True)


def read(path):
    with gzip.open(path) as f:
        data = f.read()
    if data[0:3] != b'\x00\x00\x08':
        sys.exit(f'{path}: not an unsigned-byte IDX file (magic {data[:4].hex(" ")})')
    ndims = data[3]
    dims = struct.unpack('>' + 'I' * ndims, data[4:4 + 4 * ndims])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims)
    if body.size != int(np.prod(dims)):
        sys.exit(f'{path}: header says {dims}, data has {body.size} bytes')
    return body.reshape(dims)


def write(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack('>' + 'I' * array.ndim, *array.shape)
    with open(path, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', mtime=0, filename='', compresslevel=9) as f:
        f.write(header + array.astype(np.uint8).tobytes())


for split, per_class in PER_CLASS.items():
    images = read(f'{src}/{split}-images-idx3-ubyte.gz')
    labels = read(f'{src}/{split}-labels-idx1-ubyte.gz')
    assert images.shape[0] == labels.shape[0], (images.shape, labels.shape)
    firsts = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
    assert all(len(f) == per_class for f in firsts), 'a class has too few examples'
    keep = np.sort(np.concatenate(firsts))
    write(f'{out}/{split}-images-idx3-ubyte.gz', images[keep])
    write(f'{out}/{split}-labels-idx1-ubyte.gz', labels[keep])
    print(f'{split}: {len(keep)} of {labels.shape[0]} examples, {per_class} per class')

total = 0
for name in sorted(n for n in os.listdir(out) if n.endswith('.gz')):
    size = os.path.getsize(os.path.join(out, name))
    total += size
    print(f'{size:>9} {name}')
print(f'{total:>9} bytes in all')
