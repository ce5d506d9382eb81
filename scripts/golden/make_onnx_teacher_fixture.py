"""ONNX teacher fixtures for src/core/models/onnxTeacher.ts, exported from PyTorch.

tiny-cnn.onnx: Conv(1->4, 3, pad 1) - ReLU - MaxPool 2 - Conv(4->8, 3, pad 1) - ReLU - MaxPool 2 -
Flatten - Linear(392 -> 10), NCHW input [batch, 1, 28, 28] (dynamic batch), fixed-seed random weights,
exported by the TorchScript exporter (dynamo=False, opset 13), saved with the value_info of ONNX shape
inference (so intermediate values have a ValueInfoProto). tiny-mlp.onnx: Linear(784 -> 16) - ReLU - Linear(16 -> 10) on a flat input [batch, 784].

tiny-cnn-golden.json holds, for the first 6 test images of the embedded demo data
(media/demo/data/t10k-images-idx3-ubyte.gz):
  pixels         the raw bytes, NHWC order (6 x 28 x 28 x 1); the models' input is float32(pixel) / 255
  logits         PyTorch's float32 logits of the CNN, 6 x 10
  mlpLogits      PyTorch's float32 logits of the MLP (input: the same images flattened), 6 x 10
  feature        the CNN's second ReLU as PyTorch computed it: its ONNX value name, its NCHW values
                 (6 x 8 x 14 x 14) and their NHWC transpose (6 x 14 x 14 x 8)
Floats are written as the shortest decimal that reads back as the same float32.
The script also runs both models in onnxruntime (Python) and checks them against PyTorch.

usage: python3 scripts/golden/make_onnx_teacher_fixture.py [out-dir]   (default test/fixtures/onnx)
"""
import gzip, json, os, re, struct, sys
import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

SEED = 20240
N = 6
OPSET = 13
COMMAND = 'python3 scripts/golden/make_onnx_teacher_fixture.py'
OUT = sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/onnx'
IMAGES = 'media/demo/data/t10k-images-idx3-ubyte.gz'


class TinyCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(8 * 7 * 7, 10)

    def forward(self, x, keep=None):
        x = self.relu1(self.conv1(x))
        x = self.pool1(x)
        x = self.relu2(self.conv2(x))
        if keep is not None:
            keep.append(x)
        x = self.pool2(x)
        return self.fc(torch.flatten(x, 1))


class TinyMlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def read_images(path, n):
    with gzip.open(path, 'rb') as fh:
        magic, count, rows, cols = struct.unpack('>IIII', fh.read(16))
        assert magic == 0x0803 and count >= n, (magic, count)
        return np.frombuffer(fh.read(n * rows * cols), dtype=np.uint8).reshape(n, rows, cols, 1)


def f32(values):
    """Shortest decimals that read back as the same float32 values (nested lists)."""
    a = np.asarray(values, dtype=np.float32)
    out = [float(str(v)) for v in a.ravel()]
    assert np.array_equal(np.array(out, dtype=np.float32), a.ravel())
    return np.array(out, dtype=object).reshape(a.shape).tolist()


def export(model, example, path):
    torch.onnx.export(model, (example,), path, dynamo=False, opset_version=OPSET, input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'batch'}, 'logits': {0: 'batch'}})
    # Keep the inferred shapes of intermediate values in value_info, as many published models do
    # (onnxTeacher.ts then reuses that ValueInfoProto when it adds one of them as a graph output).
    proto = onnx.shape_inference.infer_shapes(onnx.load(path), strict_mode=True)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)
    return proto


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(SEED)
    cnn = TinyCnn().eval()
    mlp = TinyMlp().eval()

    pixels = read_images(IMAGES, N)  # NHWC bytes
    nhwc = pixels.astype(np.float32) / np.float32(255)
    nchw = np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))
    with torch.no_grad():
        keep = []
        logits = cnn(torch.from_numpy(nchw), keep).numpy()
        feature = keep[0].numpy()
        mlp_logits = mlp(torch.from_numpy(nhwc.reshape(N, -1))).numpy()

    cnn_file = os.path.join(OUT, 'tiny-cnn.onnx')
    mlp_file = os.path.join(OUT, 'tiny-mlp.onnx')
    proto = export(cnn, torch.from_numpy(nchw[:1]), cnn_file)
    export(mlp, torch.from_numpy(nhwc[:1].reshape(1, -1)), mlp_file)

    # The ONNX value that holds the second ReLU's output (the exporter names it after the module).
    relus = [n for n in proto.graph.node if n.op_type == 'Relu']
    assert len(relus) == 2, [n.name for n in relus]
    feature_name = relus[1].output[0]
    assert 'relu2' in feature_name, feature_name

    # Check onnxruntime against PyTorch, fetching the feature as an extra output.
    extended = onnx.load(cnn_file)
    extended.graph.output.append(onnx.helper.make_tensor_value_info(feature_name, onnx.TensorProto.FLOAT, None))
    got_logits, got_feature = ort.InferenceSession(extended.SerializeToString(), providers=['CPUExecutionProvider']).run(['logits', feature_name], {'input': nchw})
    got_mlp = ort.InferenceSession(mlp_file, providers=['CPUExecutionProvider']).run(['logits'], {'input': nhwc.reshape(N, -1)})[0]
    diffs = {
        'logits': float(np.abs(got_logits - logits).max()),
        'feature': float(np.abs(got_feature - feature).max()),
        'mlpLogits': float(np.abs(got_mlp - mlp_logits).max()),
    }
    assert max(diffs.values()) <= 1e-5, diffs

    doc = {
        'header': {
            'command': COMMAND,
            'torch': torch.__version__,
            'onnx': onnx.__version__,
            'onnxruntime': ort.__version__,
            'seed': SEED,
            'opset': OPSET,
            'images': f'the first {N} images of {IMAGES}; model input = float32(pixel) / 255',
            'onnxruntimePythonMaxAbsDiff': diffs,
        },
        'n': N,
        'dataShape': [28, 28, 1],
        'numClasses': 10,
        'pixels': pixels.ravel().tolist(),
        'logits': f32(logits),
        'mlpLogits': f32(mlp_logits),
        'feature': {
            'name': feature_name,
            'nchwShape': list(feature.shape),
            'nchw': f32(feature.ravel()),
            'nhwcShape': [N, feature.shape[2], feature.shape[3], feature.shape[1]],
            'nhwc': f32(feature.transpose(0, 2, 3, 1).ravel()),
        },
    }
    text = json.dumps(doc, indent=1)
    text = re.sub(r'\[\s+([-0-9.eE+,\s]+?)\s+\]', lambda m: '[' + re.sub(r',\s+', ', ', m.group(1)) + ']', text)
    golden = os.path.join(OUT, 'tiny-cnn-golden.json')
    with open(golden, 'w') as fh:
        fh.write(text + '\n')
    for f in (cnn_file, mlp_file, golden):
        print(f'{f}: {os.path.getsize(f)} bytes')
    print(f'feature value: {feature_name}; onnxruntime (Python) vs PyTorch max |diff|: {diffs}')


if __name__ == '__main__':
    main()
