/**
 * An ONNX teacher of text data, opened before the run: its own tokenizer (teacher.tokenizer, or the
 * student's tokenizer.json), its token ids for every split (they may differ from the student's:
 * the two learn from each other on logits only), and the checks that its tokenizer fits its token
 * embedding. Every problem is a config problem at the field to change.
 */
import type { TeacherSpec } from '../config/schema.ts';
import type { LoadedConfig } from '../config/load.ts';
import { ConfigError, problemAt, type JsonPath } from '../config/problems.ts';
import type { Dataset } from '../data/dataset.ts';
import { DataError } from '../data/dataError.ts';
import { forHfTokenizer } from '../data/textAugment.ts';
import { encodeTeacherRows, loadHfTokenizer, type HfTokenizer } from '../data/tokenize.ts';
import type { TeacherOutputRequest } from '../distill/objective.ts';
import type { TeacherSource } from '../distill/teacherOutputs.ts';
import { ModelFileError } from '../models/io.ts';
import { openOnnxTextTeacher } from '../models/onnxTextTeacher.ts';

/** Embeddings are often padded past the tokenizer's vocabulary (to a multiple of 8, 64 or 128) for speed. */
export const EMBEDDING_PADDING_ROWS = 128;

/** The teacher's tokenizer file and the config field that names it. */
export function teacherTokenizerFile(
  loaded: LoadedConfig,
  spec: Extract<TeacherSpec, { source: 'onnx' }>,
  base: JsonPath,
): { file: string; at: JsonPath } | undefined {
  if (spec.tokenizer) return { file: spec.tokenizer, at: [...base, 'tokenizer'] };
  const data = loaded.config.data;
  if (data.source === 'text' && data.tokenizer.type === 'huggingface')
    return { file: data.tokenizer.file, at: ['data', 'tokenizer', 'file'] };
  return undefined;
}

export async function loadTextTeacher(
  loaded: LoadedConfig,
  data: Dataset,
  requests: TeacherOutputRequest[],
  spec: Extract<TeacherSpec, { source: 'onnx' }>,
  base: JsonPath,
): Promise<TeacherSource> {
  const text = data.text!;
  const problem = (at: JsonPath, message: string): never => {
    throw new ConfigError([problemAt(loaded.source, at, message)]);
  };
  if (requests.some((r) => r.layer !== 'logits'))
    problem(
      ['distill'],
      `reads the teacher's layer "${requests.find((r) => r.layer !== 'logits')!.layer}", but an ONNX text teacher gives its logits only; expected terms on logits (kd, dkd, rkd on "logits")`,
    );
  const tokenizer = teacherTokenizerFile(loaded, spec, base);
  if (!tokenizer)
    return problem(
      base,
      `an ONNX teacher of text data tokenises the texts itself; expected "tokenizer": the path of its tokenizer.json (the student's data.tokenizer is a word vocabulary)`,
    );
  let hf: HfTokenizer;
  try {
    hf = loadHfTokenizer(tokenizer.file);
  } catch (err) {
    if (err instanceof DataError) return problem(tokenizer.at, err.message);
    throw err;
  }
  const maxLength = spec.maxLength ?? text.maxLength;
  let onnx;
  try {
    onnx = await openOnnxTextTeacher(spec.path, data.numClasses, { maxLength, logits: spec.logits });
  } catch (err) {
    if (err instanceof ModelFileError) return problem([...base, 'path'], err.message);
    throw err;
  }
  const rows = onnx.embeddingRows;
  if (rows !== undefined && (hf.vocabSize > rows || rows - hf.vocabSize >= EMBEDDING_PADDING_ROWS)) {
    await onnx.dispose();
    problem(
      tokenizer.at,
      `${tokenizer.file}: has a vocabulary of ${hf.vocabSize} tokens, but the token embedding "${onnx.embeddingName}" of the teacher ${spec.path} has ${rows} rows; expected the teacher's own tokenizer.json (as many tokens as rows, or fewer by less than ${EMBEDDING_PADDING_ROWS} when the embedding is padded)`,
    );
  }
  const encode = (texts: string[]) => encodeTeacherRows(hf, texts, maxLength).rows;
  // The teacher labels an augmented transfer set too: its rows follow the training split's (transferRows).
  const unlabeled = text.texts.unlabeled ? forHfTokenizer(text.texts.unlabeled, hf) : [];
  return {
    kind: 'onnx',
    label: 'teacher',
    onnx,
    inputs: {
      train: encode([...text.texts.train, ...unlabeled]),
      validation: encode(text.texts.validation),
      test: encode(text.texts.test),
    },
  };
}
