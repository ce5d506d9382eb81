/**
 * Latency inputs for text models: full-length rows of token ids (the slowest case, no padding) for
 * a text student, and an ONNX text teacher's named int64 inputs (ids, an all-ones attention mask,
 * zero token types), so that both are timed on the same number of tokens per text.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type * as ortTypes from 'onnxruntime-node';
import type { DistillConfig } from '../config/schema.ts';
import { loadHfTokenizer } from '../data/tokenize.ts';
import { openOnnxTextTeacher } from '../models/onnxTextTeacher.ts';
import { SeededRandom } from '../random.ts';
import { benchOnnx, tokenRows, type BenchFeeds, type BenchInputs, type BenchOptions } from './latency.ts';
import type { LatencyResult } from '../../protocol/events.ts';

/** Token-id rows for a model whose first layer is an embedding; undefined for other models. */
export function textStudentInputs(model: tf.LayersModel): BenchInputs | undefined {
  const first = model.layers[0];
  if (first?.getClassName() !== 'Embedding') return undefined;
  const vocab = first.getConfig().inputDim as number;
  const length = (model.inputs[0].shape as number[])[1];
  return (batch, seed) => tokenRows(batch, length, vocab, seed);
}

/** The same rows as the ONNX export's float32 `input`. */
export function textStudentFeeds(model: tf.LayersModel): BenchFeeds | undefined {
  const rows = textStudentInputs(model);
  if (!rows) return undefined;
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const length = (model.inputs[0].shape as number[])[1];
  return (batch, seed) => ({ input: new ort.Tensor('float32', rows(batch, seed), [batch, length]) });
}

/** Times an ONNX text teacher (config.teacher, text data) in onnxruntime-node on the CPU. */
export async function benchTextTeacher(
  config: DistillConfig,
  numClasses: number,
  options: BenchOptions,
): Promise<{ results: LatencyResult[]; bytes: number }> {
  const ort = require('onnxruntime-node') as typeof ortTypes;
  const spec = config.teacher as Extract<DistillConfig['teacher'], { source: 'onnx' }>;
  const data = config.data as Extract<DistillConfig['data'], { source: 'text' }>;
  const maxLength = spec.maxLength ?? data.maxLength;
  const teacher = await openOnnxTextTeacher(spec.path, numClasses, {
    maxLength,
    logits: spec.logits,
    providers: ['cpu'],
  });
  await teacher.dispose();
  const tokenizer = spec.tokenizer ?? (data.tokenizer.type === 'huggingface' ? data.tokenizer.file : undefined);
  const vocab = teacher.embeddingRows ?? (tokenizer ? loadHfTokenizer(tokenizer).vocabSize : 2);
  const feeds: BenchFeeds = (batch, seed) => {
    const rng = new SeededRandom(seed);
    const size = batch * maxLength;
    const tensor = (values: (i: number) => number) =>
      new ort.Tensor(
        'int64',
        BigInt64Array.from({ length: size }, (_, i) => BigInt(values(i))),
        [batch, maxLength],
      );
    const all: Record<string, ortTypes.Tensor> = {
      input_ids: tensor(() => Math.floor(rng.next() * vocab)),
      attention_mask: tensor(() => 1),
      token_type_ids: tensor(() => 0),
    };
    return Object.fromEntries(teacher.tokenInputs.map((n) => [n, all[n]]));
  };
  const bytes = fs.readFileSync(spec.path);
  const results = await benchOnnx('teacher', bytes, [maxLength], options, ['cpu'], 'input_ids', undefined, feeds);
  return { results, bytes: bytes.length };
}
