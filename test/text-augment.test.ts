import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { dataSchema } from '../src/core/config/schema.ts';
import { loadDataset } from '../src/core/data/dataset.ts';
import { augmentTexts, forHfTokenizer, MASK_MARK, MAX_NGRAM } from '../src/core/data/textAugment.ts';
import { loadHfTokenizer } from '../src/core/data/tokenize.ts';
import { UnlabeledDataError } from '../src/core/data/unlabeled.ts';
import { kdDivergence } from '../src/core/distill/terms.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { root, runCli, runFolders, tempDir, writeConfig } from './helpers/cli.ts';

const FIXTURES = path.join(root, 'test', 'fixtures', 'text');
const TRAIN = path.join(FIXTURES, 'train.jsonl');
const TEST = path.join(FIXTURES, 'test.jsonl');
const TOKENIZER = path.join(FIXTURES, 'tokenizer.json');
const TEACHER = path.join(FIXTURES, 'tiny-transformer.onnx');
const texts = fs
  .readFileSync(TRAIN, 'utf8')
  .trim()
  .split('\n')
  .slice(0, 30)
  .map((l) => (JSON.parse(l) as { text: string }).text);
const words = (t: string) => t.split(/\s+/).filter((w) => w !== '');
const none = { mask: 0, replace: 0, ngram: 0, copies: 3 };

test("Tang et al.'s augmentation: masking, replacement from the training words, n-gram sampling, n_iter copies, seeded", () => {
  const plain = augmentTexts(texts, none, 1);
  assert.equal(plain.length, texts.length * 3);
  plain.forEach((t, i) => assert.equal(t, words(texts[Math.floor(i / 3)]).join(' ')));

  const masked = augmentTexts(texts, { ...none, mask: 1 }, 1);
  masked.forEach((t, i) =>
    assert.deepEqual(
      words(t),
      words(texts[Math.floor(i / 3)]).map(() => MASK_MARK),
    ),
  );

  const vocabulary = new Set(texts.flatMap(words));
  const replaced = augmentTexts(texts, { ...none, replace: 1 }, 1);
  let changed = 0;
  replaced.forEach((t, i) => {
    const original = words(texts[Math.floor(i / 3)]);
    const copy = words(t);
    assert.equal(copy.length, original.length);
    for (const [j, w] of copy.entries()) {
      assert.ok(vocabulary.has(w), `"${w}" is a training word`);
      if (w !== original[j]) changed++;
    }
  });
  assert.ok(changed > replaced.length, 'replacement changes words');

  const cut = augmentTexts(texts, { ...none, ngram: 1 }, 1);
  const lengths = new Set<number>();
  cut.forEach((t, i) => {
    const original = words(texts[Math.floor(i / 3)]);
    const copy = words(t);
    assert.ok(copy.length >= 1 && copy.length <= MAX_NGRAM, `an n-gram of 1..${MAX_NGRAM} words: ${copy.length}`);
    const at = original.findIndex((_, s) => copy.every((w, k) => original[s + k] === w));
    assert.ok(at >= 0, 'a contiguous n-gram of the original');
    lengths.add(copy.length);
  });
  assert.deepEqual([...lengths].sort(), [1, 2, 3, 4, 5]);

  const options = { mask: 0.1, replace: 0.1, ngram: 0.25, copies: 4 };
  assert.deepEqual(augmentTexts(texts, options, 7), augmentTexts(texts, options, 7));
  assert.notDeepEqual(augmentTexts(texts, options, 7), augmentTexts(texts, options, 8));
  const mixed = augmentTexts(texts, options, 7);
  const maskRate =
    mixed.flatMap(words).filter((w) => w === MASK_MARK).length /
    augmentTexts(texts, { ...options, mask: 0, ngram: 0 }, 7).flatMap(words).length;
  assert.ok(maskRate > 0.03 && maskRate < 0.2, `mask rate ${maskRate}`);
  // Mask and replacement are exclusive outcomes of one draw per word: each near its own probability.
  const whole = augmentTexts(texts, { ...options, ngram: 0 }, 7);
  let replacedWords = 0;
  let total = 0;
  whole.forEach((t, i) => {
    const original = words(texts[Math.floor(i / options.copies)]);
    words(t).forEach((w, j) => {
      total++;
      if (w !== MASK_MARK && w !== original[j]) replacedWords++;
    });
  });
  assert.ok(replacedWords / total > 0.05 && replacedWords / total < 0.15, `replacement rate ${replacedWords / total}`);
});

test("a masked word is the teacher's masked-word (else unknown) token, and the student's unknown id", async () => {
  const hf = loadHfTokenizer(TOKENIZER);
  const [forTeacher] = forHfTokenizer([`the ${MASK_MARK} computer`], hf);
  assert.equal(forTeacher, 'the [UNK] computer'); // the fixture's WordPiece has no [MASK]
  assert.ok(hf.tokenizer.encode(forTeacher).ids.includes(hf.tokenizer.token_to_id('[UNK]')!));

  const spec = dataSchema.parse({
    source: 'text',
    train: TRAIN,
    test: TEST,
    maxLength: 24,
    batchSize: 16,
    tokenizer: { type: 'words', minFrequency: 1 },
    unlabeled: { source: 'augment', mask: 1, replace: 0, ngram: 0, copies: 2 },
  });
  const data = await loadDataset(spec, 5);
  const u = data.unlabeled!;
  assert.equal(u.n, data.train.n * 2);
  assert.ok(u.y.every((y) => y === -1));
  assert.equal(data.text!.texts.unlabeled!.length, u.n);
  // Every word masked: every real token of every row is the unknown id 1; padding stays 0.
  const values = new Set(u.x);
  assert.deepEqual([...values].sort(), [0, 1]);
  // The vocabulary is the labeled training texts': the copies change no id of the labeled rows.
  const plain = await loadDataset(dataSchema.parse({ ...spec, unlabeled: undefined }), 5);
  assert.deepEqual(data.train.x, plain.train.x);
  assert.equal(data.text!.vocabSize, plain.text!.vocabSize);

  const limited = await loadDataset(
    dataSchema.parse({ ...spec, unlabeled: { source: 'augment', copies: 3, limit: 50 } }),
    5,
  );
  assert.equal(limited.unlabeled!.n, 50);
});

test('an augmented transfer set is refused for other data, other transfer sets for text, and bad probabilities', async () => {
  const text = { source: 'text', train: TRAIN, test: TEST, maxLength: 24, batchSize: 16 };
  const csvSource = { source: 'csv', file: path.join(FIXTURES, 'never-read.csv') }; // refused before it is read
  await assert.rejects(
    loadDataset(dataSchema.parse({ ...text, unlabeled: csvSource }), 1),
    (err: unknown) =>
      err instanceof UnlabeledDataError &&
      err.at.join('.') === 'data.unlabeled.source' &&
      /unlabeled transfer set of source "csv" is not read; expected data\.unlabeled \{"source": "augment"\}/.test(
        err.message,
      ),
  );
  await assert.rejects(
    loadDataset(dataSchema.parse({ source: 'demo', unlabeled: { source: 'augment' } }), 1),
    (err: unknown) =>
      err instanceof UnlabeledDataError &&
      /data\.unlabeled: is "augment", which makes augmented copies of training texts, but data\.source is "demo"/.test(
        err.message,
      ),
  );
  const bad = dataSchema.safeParse({ ...text, unlabeled: { source: 'augment', mask: 0.7, replace: 0.5 } });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error!.issues[0].path, ['unlabeled', 'replace']);
  assert.match(bad.error!.issues[0].message, /mask \+ replace is 1\.2/);
});

test("kd divergence mse: PyTorch's nn.MSELoss on the logits, value and gradient", () => {
  // /usr/bin/python3: torch.manual_seed(0); s, t = torch.randn(3, 4), torch.randn(3, 4) (float64 draws cast to
  // float32); l = nn.MSELoss()(s, t); l.backward() (torch 1.13).
  const s = [
    [1.5409960746765137, -0.293428897857666, -2.1787893772125244, 0.5684312582015991],
    [-1.0845223665237427, -1.3985954523086548, 0.40334683656692505, 0.8380263447761536],
    [-0.7192575931549072, -0.40334352850914, -0.5966353416442871, 0.18203648924827576],
  ];
  const t = [
    [-0.8566746115684509, 1.1006041765213013, -1.0711873769760132, 0.1227012425661087],
    [-0.5663174986839294, 0.3731146454811096, -0.8919953107833862, -1.5091077089309692],
    [0.3703935444355011, 1.4565025568008423, 0.9398099184036255, 0.7748488187789917],
  ];
  const loss = 2.255875825881958;
  const grad = [
    [0.39961180090904236, -0.23233884572982788, -0.1846003383398056, 0.07428833842277527],
    [-0.08636748045682907, -0.29528504610061646, 0.21589037775993347, 0.3911890387535095],
    [-0.18160852789878845, -0.3099743723869324, -0.2560742199420929, -0.09880205243825912],
  ];
  const student = tf.tensor2d(s);
  const teacher = tf.tensor2d(t);
  // The temperature is not used: the same value at T = 1 and T = 4.
  for (const temperature of [1, 4])
    assert.ok(Math.abs(kdDivergence(student, teacher, temperature, 'mse').dataSync()[0] - loss) < 1e-6);
  const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => kdDivergence(a as tf.Tensor2D, b as tf.Tensor2D, 2, 'mse'))(
    [student, teacher],
  );
  const got = gs.arraySync() as number[][];
  got.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - grad[i][j]) < 1e-6)));
  assert.ok(
    (gt.dataSync() as Float32Array).every((v) => v === 0),
    'the teacher is a constant',
  );
});

test("a text run with Tang et al.'s augmented transfer set and the MSE objective: the teacher labels every copy", () => {
  const dir = tempDir('text-augment-run');
  // Paths relative to the config file, as in examples/text-fortunes/.
  const rel = (file: string) => path.relative(dir, file);
  const config = writeConfig(dir, 'augment', {
    name: 'augment',
    backend: 'auto',
    data: {
      source: 'text',
      train: rel(TRAIN),
      test: rel(TEST),
      maxLength: 24,
      batchSize: 32,
      tokenizer: { type: 'words', minFrequency: 1 },
      unlabeled: { source: 'augment', copies: 2 },
    },
    teacher: { source: 'onnx', path: rel(TEACHER), tokenizer: rel(TOKENIZER), maxLength: 48 },
    student: { architecture: { type: 'text', encoder: 'mean', embeddingDim: 16 } },
    distill: { method: 'kd', divergence: 'mse', alpha: 0.5 },
    baseline: false,
    export: { onnx: false },
    bench: { enabled: false },
    train: { epochs: 1, optimizer: { type: 'adam', learningRate: 0.01 } },
    output: { dir: path.join(dir, 'runs') },
    cache: { dir: path.join(dir, 'cache') },
  });
  // Run from a folder where the config's relative paths lead nowhere: they must be read from the config's folder.
  const elsewhere = path.join(dir, 'a', 'b', 'c');
  fs.mkdirSync(elsewhere, { recursive: true });
  const r = runCli(['train', config], elsewhere);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const events = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  const epoch = events.find((e) => e.type === 'epoch' && e.phase === 'distill');
  assert.ok(epoch && epoch.type === 'epoch' && epoch.examples, JSON.stringify(epoch));
  const { labeled, unlabeled } = epoch.examples!;
  assert.equal(unlabeled, labeled * 2);
  const outputs = events.find((e) => e.type === 'teacher_outputs');
  assert.ok(outputs && outputs.type === 'teacher_outputs');
  assert.equal(outputs.examples, labeled * 3 + 18 + 60); // train + copies, validation (10 % of 180), test
  const finished = events.find((e) => e.type === 'run_finished');
  assert.ok(finished && finished.type === 'run_finished' && finished.summary.some((s) => s.model === 'distilled'));
});
