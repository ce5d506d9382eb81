/**
 * Tokenisation of texts into fixed-length rows of token ids: a Hugging Face tokenizer.json read
 * locally by @huggingface/tokenizers (pure JavaScript, no download), or a word-level vocabulary
 * built from the training split. Rows are right-padded; longer texts are truncated at the end,
 * keeping a final special token (BERT's [SEP]) when the tokenizer adds one.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { DataError, readDataFile } from './dataError.ts';

/** A tokenizer.json, parsed and checked. */
export interface HfTokenizer {
  file: string;
  tokenizer: Tokenizer;
  /** Largest id it can produce + 1 (vocabulary and added tokens). */
  vocabSize: number;
  /** The id used for padding: the file's `padding.pad_id`, else [PAD] / <pad>, else 0. */
  padId: number;
  /** Ids of special tokens ([CLS], [SEP], <s>, ...): kept at the end when a text is truncated. */
  specialIds: Set<number>;
}

function lineOf(text: string, position: number): number {
  let line = 1;
  for (let i = 0; i < position && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/** Reads a tokenizer.json; one that does not parse, or that the library cannot build, is a DataError. */
export function loadHfTokenizer(file: string): HfTokenizer {
  const text = readDataFile(file, 'tokenizer.json file').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const position = /at position (\d+)/.exec(message);
    throw new DataError(
      file,
      `is not valid JSON (${message})`,
      "a Hugging Face tokenizer.json (tokenizer.save() or the model's own file)",
      {
        line: position ? lineOf(text, Number(position[1])) : undefined,
      },
    );
  }
  const record = json as { model?: { type?: unknown }; padding?: { pad_id?: unknown } | null; added_tokens?: unknown };
  if (
    !record ||
    typeof record !== 'object' ||
    Array.isArray(record) ||
    !record.model ||
    typeof record.model !== 'object'
  )
    throw new DataError(
      file,
      'has no "model" object',
      'a Hugging Face tokenizer.json, whose "model" is WordPiece, BPE, Unigram or WordLevel',
    );
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(record, {});
    tokenizer.encode('a');
  } catch (err) {
    throw new DataError(
      file,
      `cannot be used as a tokenizer: ${(err as Error).message.split('\n')[0]}`,
      `a tokenizer.json that @huggingface/tokenizers supports (model type ${JSON.stringify(record.model.type ?? 'unknown')})`,
    );
  }
  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  if (vocabSize === 0) throw new DataError(file, 'has an empty vocabulary', 'a tokenizer.json with its vocabulary');
  const specialIds = new Set<number>();
  for (const [id, token] of tokenizer.get_added_tokens_decoder()) if (token.special) specialIds.add(id);
  const configured = record.padding?.pad_id;
  const padId =
    typeof configured === 'number'
      ? configured
      : (tokenizer.token_to_id('[PAD]') ?? tokenizer.token_to_id('<pad>') ?? tokenizer.token_to_id('<PAD>') ?? 0);
  return { file, tokenizer, vocabSize, padId, specialIds };
}

/** Truncates to `maxLength`, keeping a final special token; returns whether it cut. */
function fit(ids: number[], maxLength: number, specialIds: Set<number>): { ids: number[]; truncated: boolean } {
  if (ids.length <= maxLength) return { ids, truncated: false };
  const last = ids[ids.length - 1];
  if (specialIds.has(last) && maxLength > 1) return { ids: [...ids.slice(0, maxLength - 1), last], truncated: true };
  return { ids: ids.slice(0, maxLength), truncated: true };
}

const WORD_PATTERN = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|[^\s\p{L}\p{N}]/gu;

/** Lower-cased words (letters and digits, with inner apostrophes) and single punctuation marks. */
export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(WORD_PATTERN) ?? [];
}

/** The student's tokenisation: ids where 0 is padding. */
export interface StudentTokenizer {
  /** Ids are 0 .. vocabSize - 1 (0: padding). */
  vocabSize: number;
  /** For the run record: what the ids mean. */
  describe: string;
  encode(text: string): number[];
  specialIds: Set<number>;
  /** How to compute the ids outside this engine (written beside the exported student). */
  recipe: Record<string, unknown>;
}

export const PAD_ID = 0;
export const UNKNOWN_WORD_ID = 1;

/**
 * A word vocabulary from the training texts: words seen at least `minFrequency` times, the most
 * frequent first (ties in first-seen order), at most `maxSize` ids with padding (0) and unknown (1).
 */
export function wordVocabulary(texts: string[], minFrequency: number, maxSize: number): StudentTokenizer {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of wordTokens(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const kept = [...counts.entries()]
    .filter(([, c]) => c >= minFrequency)
    .map(([w, c], order) => ({ w, c, order }))
    .sort((a, b) => b.c - a.c || a.order - b.order)
    .slice(0, Math.max(0, maxSize - 2));
  const ids = new Map(kept.map((k, i) => [k.w, i + 2]));
  return {
    vocabSize: kept.length + 2,
    describe: `word vocabulary of ${kept.length} words from the training split (min frequency ${minFrequency}, max size ${maxSize}; of ${counts.size} distinct words), 0 = padding, 1 = unknown`,
    encode: (text) => wordTokens(text).map((w) => ids.get(w) ?? UNKNOWN_WORD_ID),
    specialIds: new Set(),
    recipe: {
      type: 'words',
      steps:
        'lower-case the text, split it with `pattern` (JavaScript RegExp, flags gu), look each piece up in `vocabulary` (index = id; absent: 1)',
      pattern: WORD_PATTERN.source,
      flags: WORD_PATTERN.flags,
      paddingId: PAD_ID,
      unknownId: UNKNOWN_WORD_ID,
      vocabulary: ['[PAD]', '[UNK]', ...kept.map((k) => k.w)],
    },
  };
}

/** A Hugging Face tokenizer for the student: its ids shifted by one, so that 0 is padding. */
export function hfStudentTokenizer(hf: HfTokenizer): StudentTokenizer {
  return {
    vocabSize: hf.vocabSize + 1,
    describe: `${hf.file} (${hf.vocabSize} tokens), ids + 1 (0 = padding)`,
    encode: (text) => hf.tokenizer.encode(text).ids.map((id: number) => id + 1),
    specialIds: new Set([...hf.specialIds].map((id) => id + 1)),
    recipe: {
      type: 'huggingface',
      steps: 'encode with the tokenizer.json (its special tokens included), add 1 to every id (0 is padding)',
      tokenizer: hf.file,
      idOffset: 1,
      paddingId: PAD_ID,
    },
  };
}

/** Student rows: `texts.length * maxLength` ids (as float32, the models' input), right-padded with 0. */
export function encodeRows(
  tok: StudentTokenizer,
  texts: string[],
  maxLength: number,
): { x: Float32Array; truncated: number } {
  const x = new Float32Array(texts.length * maxLength);
  let truncated = 0;
  texts.forEach((text, i) => {
    const r = fit(tok.encode(text), maxLength, tok.specialIds);
    if (r.truncated) truncated++;
    x.set(r.ids, i * maxLength);
  });
  return { x, truncated };
}

/**
 * Teacher rows for an ONNX text model: per text `maxLength` ids then `maxLength` attention-mask
 * values (1 = token, 0 = padding), as float32 (ids are exact below 2^24), padded with `padId`.
 */
export function encodeTeacherRows(
  hf: HfTokenizer,
  texts: string[],
  maxLength: number,
): { rows: Float32Array; truncated: number } {
  const rows = new Float32Array(texts.length * 2 * maxLength);
  let truncated = 0;
  texts.forEach((text, i) => {
    const r = fit(hf.tokenizer.encode(text).ids, maxLength, hf.specialIds);
    if (r.truncated) truncated++;
    const base = i * 2 * maxLength;
    rows.fill(hf.padId, base, base + maxLength);
    rows.set(r.ids, base);
    rows.fill(1, base + maxLength, base + maxLength + r.ids.length);
  });
  return { rows, truncated };
}
