/**
 * Token ids for the splits of text data: the student's tokenizer (a word vocabulary built from the
 * training split, or a Hugging Face tokenizer.json) turns every split's texts into rows of
 * `maxLength` ids; the texts are kept for a teacher that tokenises them its own way.
 */
import type { DataSpec } from '../config/schema.ts';
import { forHfTokenizer } from './textAugment.ts';
import { encodeRows, hfStudentTokenizer, loadHfTokenizer, wordVocabulary, type StudentTokenizer } from './tokenize.ts';

export interface TextInfo {
  /** The texts of each split, row for row with the split's examples; `unlabeled`: an augmented transfer set's (masked words are MASK_MARK). */
  texts: { train: string[]; validation: string[]; test: string[]; unlabeled?: string[] };
  /** Student ids are 0 .. vocabSize - 1; 0 is padding. */
  vocabSize: number;
  maxLength: number;
  /** What the student's ids are (the run record's normalisation line). */
  tokenizer: string;
  /** Texts longer than maxLength (cut at the end), over all splits. */
  truncated: number;
  normalization: string;
  /** How the student's input rows are made, as JSON: written beside the exported student (artifacts/text-input.json). */
  input: Record<string, unknown>;
}

interface TextSplit {
  x: Float32Array;
  n: number;
  texts?: string[];
}

export function studentTokenizer(
  spec: Extract<DataSpec, { source: 'text' }>,
  trainTexts: string[],
  hf = spec.tokenizer.type === 'huggingface' ? loadHfTokenizer(spec.tokenizer.file) : undefined,
): StudentTokenizer {
  const t = spec.tokenizer;
  return t.type === 'words' ? wordVocabulary(trainTexts, t.minFrequency, t.maxSize) : hfStudentTokenizer(hf!);
}

/** Fills each split's `x` with the student's token ids (in place) and describes them. */
export function tokenizeSplits(
  spec: Extract<DataSpec, { source: 'text' }>,
  splits: { train: TextSplit; validation: TextSplit; test: TextSplit },
  unlabeled?: TextSplit,
): TextInfo {
  const texts = { train: splits.train.texts!, validation: splits.validation.texts!, test: splits.test.texts! };
  const hf = spec.tokenizer.type === 'huggingface' ? loadHfTokenizer(spec.tokenizer.file) : undefined;
  // The vocabulary comes from the labeled training texts only, never from their augmented copies.
  const tok = studentTokenizer(spec, texts.train, hf);
  let truncated = 0;
  for (const name of ['train', 'validation', 'test'] as const) {
    const { x, truncated: cut } = encodeRows(tok, texts[name], spec.maxLength);
    splits[name].x = x;
    truncated += cut;
  }
  if (unlabeled) {
    // A masked word (MASK_MARK) is a mark outside the word vocabulary, so the unknown id; a Hugging Face tokenizer reads its own mask token.
    unlabeled.x = encodeRows(tok, hf ? forHfTokenizer(unlabeled.texts!, hf) : unlabeled.texts!, spec.maxLength).x;
  }
  const total = texts.train.length + texts.validation.length + texts.test.length;
  return {
    texts: unlabeled ? { ...texts, unlabeled: unlabeled.texts! } : texts,
    vocabSize: tok.vocabSize,
    maxLength: spec.maxLength,
    tokenizer: tok.describe,
    truncated,
    input: {
      ...tok.recipe,
      maxLength: spec.maxLength,
      truncation: 'texts longer than maxLength keep their first maxLength ids (a final special token is kept)',
      padding: 'rows are right-padded with id 0 to maxLength; the model input is float32 [batch, maxLength]',
    },
    normalization: `token ids: ${tok.describe}; ${spec.maxLength} per text, right-padded with 0 (${truncated} of ${total} texts truncated)`,
  };
}
