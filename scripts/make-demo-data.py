"""Writes the embedded demo data, media/demo/data/: a class-balanced subset of Fashion-MNIST
(the first 400 training and 200 test images of each class, in file order) as IDX .gz files,
byte-reproducible (gzip mtime 0). Source: Debian's dataset-fashion-mnist package.
usage: python3 scripts/make-demo-data.py [source folder]"""
import gzip, os, struct, sys
import numpy as np

src = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/datasets/fashion-mnist'
out = os.path.join(os.path.dirname(__file__), '..', 'media', 'demo', 'data')
os.makedirs(out, exist_ok=True)

def read(path):
    with gzip.open(path) as f:
        data = f.read()
    ndims = data[3]
    dims = struct.unpack('>' + 'I' * ndims, data[4:4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)

def write(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack('>' + 'I' * array.ndim, *array.shape)
    with open(path, 'wb') as raw, gzip.GzipFile(fileobj=raw, mode='wb', mtime=0, filename='') as f:
        f.write(header + array.astype(np.uint8).tobytes())

for split, per_class in (('train', 400), ('t10k', 200)):
    images = read(f'{src}/{split}-images-idx3-ubyte.gz')
    labels = read(f'{src}/{split}-labels-idx1-ubyte.gz')
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)]))
    write(f'{out}/{split}-images-idx3-ubyte.gz', images[keep])
    write(f'{out}/{split}-labels-idx1-ubyte.gz', labels[keep])
    print(split, len(keep), 'examples')
for name in sorted(os.listdir(out)):
    print(f'{os.path.getsize(os.path.join(out, name)):>9} {name}')
