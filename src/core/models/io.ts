/**
 * TensorFlow.js layers models on disk (model.json + one weights file), with plain fs so it works
 * on every backend (tfjs's file:// handler exists only with tfjs-node).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeDirAtomic } from '../fsutil.ts';

export const WEIGHTS_FILE = 'weights.bin';

/** A model file the user pointed at is unusable: reported without a stack, exit code 2. */
export class ModelFileError extends Error {
  override name = 'ModelFileError';
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

/** Writes `dir/model.json` and `dir/weights.bin` atomically (the folder appears complete or not at all). */
export async function saveModel(
  model: tf.LayersModel,
  dir: string,
  metadata?: Record<string, unknown>,
): Promise<number> {
  let bytes = 0;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: 'Distill Studio',
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
        ...(metadata ? { userDefinedMetadata: metadata } : {}),
      };
      writeDirAtomic(dir, (tmp) => {
        fs.writeFileSync(path.join(tmp, WEIGHTS_FILE), new Uint8Array(weightData));
        fs.writeFileSync(path.join(tmp, 'model.json'), JSON.stringify(modelJson));
      });
      bytes = weightData.byteLength;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes } };
    }),
  );
  return bytes;
}

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, unknown>;
}

/** Loads a layers model from its model.json; a corrupt or incomplete model is a ModelFileError. */
export async function loadModel(
  modelJsonPath: string,
): Promise<{ model: tf.LayersModel; metadata?: Record<string, unknown> }> {
  let json: ModelJson;
  try {
    json = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8')) as ModelJson;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code)
      throw new ModelFileError(
        modelJsonPath,
        code === 'ENOENT' ? 'the model file does not exist' : `cannot be read (${code})`,
      );
    throw new ModelFileError(modelJsonPath, 'is not valid JSON; expected a TensorFlow.js model.json');
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest))
    throw new ModelFileError(
      modelJsonPath,
      'has no "modelTopology" or "weightsManifest"; expected a TensorFlow.js layers model (model.json)',
    );
  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) {
      const file = path.resolve(path.dirname(modelJsonPath), p);
      try {
        buffers.push(fs.readFileSync(file));
      } catch (err) {
        throw new ModelFileError(
          file,
          `weights file named by ${path.basename(modelJsonPath)} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
        );
      }
    }
  }
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const expected = specs.reduce(
    (n, s) => n + s.shape.reduce((a, d) => a * d, 1) * (s.dtype === 'float32' || s.dtype === 'int32' ? 4 : 1),
    0,
  );
  if (total !== expected)
    throw new ModelFileError(
      modelJsonPath,
      `its weights files hold ${total} bytes but the manifest describes ${expected}; the model is truncated or corrupt`,
    );
  const weightData = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightData.set(b, offset);
    offset += b.byteLength;
  }
  try {
    const model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: specs,
        weightData: weightData.buffer,
      }),
    );
    return { model, metadata: json.userDefinedMetadata };
  } catch (err) {
    throw new ModelFileError(
      modelJsonPath,
      `is not a loadable TensorFlow.js layers model: ${(err as Error).message.split('\n')[0]}`,
    );
  }
}
