/**
 * Tang et al. 2019's transfer set ("Distilling Task-Specific Knowledge from BERT into Simple Neural
 * Networks", section 3.3): augmented copies of the training texts, labelled later by the teacher's
 * outputs. Per copy, each word is masked with probability `mask` or replaced with probability
 * `replace`; then, with probability `ngram`, only a random n-gram of the copy is kept (n uniform in
 * 1..5). `copies` copies per text (their n_iter).
 *
 * Replacement: Tang et al. swap a word for another of the same part of speech, which needs a
 * part-of-speech tagger; none is bundled, so the replacement is drawn from the training split's
 * words by their frequency (a unigram draw): the augmented texts stay in the training vocabulary
 * but may be less grammatical than POS-guided ones.
 *
 * Words are the text's whitespace-separated pieces (case and punctuation kept, so the teacher's
 * tokenizer sees them as it would). A masked word becomes MASK_MARK, a private-use character that
 * no real text holds: each tokenizer turns it into its own masked-word token (maskTokenText).
 */
import { mixSeed, mulberry32, permutation } from '../random.ts';
import type { HfTokenizer } from './tokenize.ts';

/** Stands for a masked word in an augmented text until a tokenizer reads it (U+E000, private use). */
export const MASK_MARK = '\uE000';

export interface TextAugmentOptions {
  /** p_mask: probability that a word is masked. */
  mask: number;
  /** p_pos stand-in: probability that a word is replaced with a training word (unigram draw). */
  replace: number;
  /** p_ng: probability that a copy is cut to a random n-gram, n in 1..MAX_NGRAM. */
  ngram: number;
  /** n_iter: augmented copies per training text. */
  copies: number;
}

export const MAX_NGRAM = 5;

const words = (text: string): string[] => text.split(/\s+/).filter((w) => w !== '');

/**
 * `copies` augmented copies of each text, text after text (copy j of text i at i * copies + j),
 * seeded: the same texts, options and seed give the same copies.
 */
export function augmentTexts(texts: string[], options: TextAugmentOptions, seed: number): string[] {
  const rand = mulberry32(mixSeed(seed, 'text-augment'));
  // Replacement words with their training frequency: a uniform pick from all word occurrences.
  const pool = texts.flatMap(words);
  const out: string[] = [];
  for (const text of texts) {
    const original = words(text);
    for (let c = 0; c < options.copies; c++) {
      let copy = original.map((w) => {
        const r = rand();
        if (r < options.mask) return MASK_MARK;
        if (r < options.mask + options.replace) return pool[Math.floor(rand() * pool.length)];
        return w;
      });
      if (copy.length > 1 && rand() < options.ngram) {
        const n = Math.min(copy.length, 1 + Math.floor(rand() * MAX_NGRAM));
        const start = Math.floor(rand() * (copy.length - n + 1));
        copy = copy.slice(start, start + n);
      }
      out.push(copy.join(' '));
    }
  }
  return out;
}

/**
 * The transfer set of `data.unlabeled: {"source": "augment"}`: the training texts' augmented copies,
 * or `limit` of them taken after a seeded shuffle.
 */
export function augmentedTransferTexts(
  texts: string[],
  spec: TextAugmentOptions & { limit?: number },
  seed: number,
): string[] {
  const all = augmentTexts(texts, spec, seed);
  if (spec.limit === undefined || spec.limit >= all.length) return all;
  const order = permutation(all.length, mixSeed(seed, 'unlabeled'));
  return Array.from(order.subarray(0, spec.limit), (i) => all[i]);
}

/**
 * The text a Hugging Face tokenizer reads for a masked word: its mask token ([MASK], <mask>) when it
 * has one (BERT's masked-word token, as in Tang et al.), else its unknown token; undefined when it
 * has neither (the masked word is then left out).
 */
export function maskTokenText(hf: HfTokenizer): string | undefined {
  for (const t of ['[MASK]', '<mask>', '<MASK>', '[UNK]', '<unk>', '<UNK>'])
    if (hf.tokenizer.token_to_id(t) !== undefined) return t;
  return undefined;
}

/** Augmented texts as a Hugging Face tokenizer should read them: MASK_MARK swapped for its masked-word token. */
export function forHfTokenizer(texts: string[], hf: HfTokenizer): string[] {
  const token = maskTokenText(hf);
  return texts.map((t) =>
    t
      .split(MASK_MARK)
      .join(token ?? '')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}
