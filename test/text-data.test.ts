import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadDataset } from '../src/core/data/dataset.ts';
import { readTexts } from '../src/core/data/text.ts';
import { encodeTeacherRows, loadHfTokenizer, wordVocabulary } from '../src/core/data/tokenize.ts';
import { openOnnxTextTeacher } from '../src/core/models/onnxTextTeacher.ts';
import { dataSchema, type DataSpec } from '../src/core/config/schema.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { catchDataError } from './helpers/dataErrors.ts';
import { root, runCli, runFolders, tempDir, writeConfig } from './helpers/cli.ts';

const FIXTURES = path.join(root, 'test', 'fixtures', 'text');
const TRAIN = path.join(FIXTURES, 'train.jsonl');
const TEST = path.join(FIXTURES, 'test.jsonl');
const TOKENIZER = path.join(FIXTURES, 'tokenizer.json');
const TEACHER = path.join(FIXTURES, 'tiny-transformer.onnx');
const golden = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'teacher-golden.json'), 'utf8')) as {
  classes: string[];
  maxLength: number;
  vocabSize: number;
  testAccuracy: number;
  examples: Array<{ text: string; ids: number[]; attentionMask: number[]; logits: number[] }>;
};
const rows = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { text: string; label: string });

const textSpec = (over: Record<string, unknown> = {}): DataSpec =>
  dataSchema.parse({ source: 'text', train: TRAIN, test: TEST, maxLength: 24, batchSize: 16, ...over });

test('CSV, TSV, JSONL and class folders give the same texts and labels', () => {
  const dir = tempDir('text-formats');
  const data = rows(TRAIN).slice(0, 12);
  const csv = path.join(dir, 'a.csv');
  fs.writeFileSync(csv, `label,text\n${data.map((r) => `${r.label},"${r.text.replace(/"/g, '""')}"`).join('\n')}\n`);
  const tsv = path.join(dir, 'a.tsv');
  fs.writeFileSync(tsv, `text\tlabel\n${data.map((r) => `${r.text}\t${r.label}`).join('\n')}\n`);
  const jsonl = path.join(dir, 'a.jsonl');
  fs.writeFileSync(jsonl, data.map((r) => JSON.stringify(r)).join('\n\n') + '\n');
  const folders = path.join(dir, 'folders');
  data.forEach((r, i) => {
    fs.mkdirSync(path.join(folders, r.label), { recursive: true });
    fs.writeFileSync(path.join(folders, r.label, `${String(i).padStart(3, '0')}.txt`), r.text);
  });
  const options = { format: 'auto' as const, text: 'text', label: 'label' };
  for (const file of [csv, tsv, jsonl]) {
    const t = readTexts(file, options);
    assert.deepEqual(
      t.texts,
      data.map((r) => r.text),
      file,
    );
    assert.deepEqual(
      t.labels,
      data.map((r) => r.label),
      file,
    );
  }
  const f = readTexts(folders, options);
  assert.equal(f.format, 'folders');
  // Folders list texts by class, then file name: the same pairs.
  const pairs = (texts: string[], labels: string[]) => texts.map((t, i) => `${labels[i]}|${t}`).sort();
  assert.deepEqual(
    pairs(f.texts, f.labels),
    pairs(
      data.map((r) => r.text),
      data.map((r) => r.label),
    ),
  );
  assert.match(readTexts(jsonl, options).origins[1].line!.toString(), /^3$/); // a blank line is skipped, lines still count
});

test('the word vocabulary comes from the training split, with its minimum frequency and maximum size', () => {
  const vocab = wordVocabulary(['the cat sat', 'the cat ran', 'a dog'], 2, 100);
  assert.equal(vocab.vocabSize, 4); // padding, unknown, "the", "cat"
  assert.deepEqual(vocab.encode('The cat, the DOG'), [2, 3, 1, 2, 1]);
  assert.equal(wordVocabulary(['a b c d e f'], 1, 4).vocabSize, 4);
});

test('text data: splits, token ids right-padded with 0, texts kept for the teacher', async () => {
  const data = await loadDataset(textSpec({ tokenizer: { type: 'words', minFrequency: 1 } }), 0);
  assert.deepEqual(data.inputShape, [24]);
  assert.deepEqual(data.classNames, golden.classes);
  assert.equal(data.train.n + data.validation.n, 180);
  assert.equal(data.test.n, 60);
  const text = data.text!;
  assert.equal(text.texts.train.length, data.train.n);
  // Row i holds text i's ids, then zeros; the vocabulary is the training split's (validation words may be unknown).
  const row = Array.from(data.train.x.subarray(0, 24));
  const ids = wordVocabulary(text.texts.train, 1, 20000).encode(text.texts.train[0]).slice(0, 24);
  assert.deepEqual(row, [...ids, ...new Array(24 - ids.length).fill(0)]);
  assert.equal(text.vocabSize, wordVocabulary(text.texts.train, 1, 20000).vocabSize);
  assert.ok(text.truncated > 0);
  assert.match(data.normalization.detail, /word vocabulary of \d+ words from the training split/);
});

test('a Hugging Face tokenizer.json gives the Rust tokenizer ids (+1 for the student, as is for the teacher)', async () => {
  const hf = loadHfTokenizer(TOKENIZER);
  assert.equal(hf.vocabSize, golden.vocabSize);
  assert.equal(hf.padId, 0);
  const { rows: teacherRows } = encodeTeacherRows(
    hf,
    golden.examples.map((e) => e.text),
    golden.maxLength,
  );
  golden.examples.forEach((e, i) => {
    const base = i * 2 * golden.maxLength;
    assert.deepEqual(Array.from(teacherRows.subarray(base, base + golden.maxLength)), e.ids, `ids of example ${i}`);
    assert.deepEqual(
      Array.from(teacherRows.subarray(base + golden.maxLength, base + 2 * golden.maxLength)),
      e.attentionMask,
      `mask of example ${i}`,
    );
  });
  const data = await loadDataset(textSpec({ tokenizer: { type: 'huggingface', file: TOKENIZER }, maxLength: 48 }), 0);
  const first = data.text!.texts.test.indexOf(golden.examples[1].text);
  assert.ok(first >= 0);
  const want = golden.examples[1].ids.map((id, t) => (golden.examples[1].attentionMask[t] ? id + 1 : 0));
  assert.deepEqual(Array.from(data.test.x.subarray(first * 48, (first + 1) * 48)), want);
});

test('the ONNX transformer teacher, fed input_ids and attention_mask by name, gives PyTorch logits', async () => {
  const teacher = await openOnnxTextTeacher(TEACHER, golden.classes.length, {
    maxLength: golden.maxLength,
    providers: ['cpu'],
  });
  try {
    assert.deepEqual(teacher.tokenInputs, ['input_ids', 'attention_mask']);
    assert.equal(teacher.embeddingRows, golden.vocabSize);
    const { rows: x } = encodeTeacherRows(
      loadHfTokenizer(TOKENIZER),
      golden.examples.map((e) => e.text),
      golden.maxLength,
    );
    const { logits } = await teacher.run(x, golden.examples.length, 4); // batches of 4 and 2
    let maxDiff = 0;
    golden.examples.forEach((e, i) =>
      e.logits.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - logits[i * golden.classes.length + j])))),
    );
    assert.ok(maxDiff < 1e-4, `max |onnxruntime - PyTorch| = ${maxDiff}`);
    assert.match(teacher.describe(), /token embedding "[^"]+" with 600 rows/);
  } finally {
    await teacher.dispose();
  }
});

test('bad text data is one DataError naming the file, the line and the field', () => {
  const dir = tempDir('text-bad');
  const options = { format: 'auto' as const, text: 'text', label: 'label' };
  const csv = path.join(dir, 'a.csv');
  fs.writeFileSync(csv, 'sentence,label\nhello there,a\n');
  const e1 = catchDataError(() => readTexts(csv, options), csv);
  assert.equal(e1.line, 1);
  assert.match(
    e1.message,
    /has no text column named "text" \(data.text\) in its header row; expected one of "sentence", "label"/,
  );
  const jsonl = path.join(dir, 'a.jsonl');
  fs.writeFileSync(jsonl, '{"text": "one", "label": "a"}\n{"text": "two", "label": "b"}\n{"text": "three"}\n');
  const e2 = catchDataError(() => readTexts(jsonl, options), jsonl);
  assert.equal(e2.line, 3);
  assert.match(e2.message, /a.jsonl:3: has no "label" key \(data.label\) on this line/);
  fs.writeFileSync(jsonl, '{"text": "one", "label": "a"}\n{"text": "   ", "label": "b"}\n');
  const e3 = catchDataError(() => readTexts(jsonl, options), jsonl);
  assert.match(e3.message, /a.jsonl:2: has an empty text \(key "text"\); expected some text in every row/);
  const bad = path.join(dir, 'tokenizer.json');
  fs.writeFileSync(bad, '{\n  "model": {\n    "type": "WordPiece",,\n  }\n}\n');
  const e4 = catchDataError(() => loadHfTokenizer(bad), bad);
  assert.equal(e4.line, 3);
  assert.match(e4.message, /is not valid JSON/);
});

/** A run config on the fixture: an ONNX transformer teacher, a small text student. */
function runConfig(dir: string, over: Record<string, unknown> = {}) {
  return {
    name: 'text',
    data: {
      source: 'text',
      train: TRAIN,
      test: TEST,
      maxLength: 24,
      batchSize: 32,
      tokenizer: { type: 'words', minFrequency: 1 },
    },
    teacher: { source: 'onnx', path: TEACHER, tokenizer: TOKENIZER, maxLength: 48 },
    student: { architecture: { type: 'text', encoder: 'mean', embeddingDim: 16 } },
    distill: { method: 'kd', temperature: 2, alpha: 0.5 },
    train: { epochs: 2, optimizer: { type: 'adam', learningRate: 0.01 } },
    bench: { batchSizes: [1], warmup: 1, minRuns: 3, minSeconds: 0.05 },
    output: { dir: path.join(dir, 'runs') },
    cache: { dir: path.join(dir, 'cache') },
    ...over,
  };
}

test('bad input to a text run: one message each, exit 2, nothing written', () => {
  const dir = tempDir('text-cli-bad');
  const smallTokenizer = path.join(dir, 'small-tokenizer.json');
  const hf = JSON.parse(fs.readFileSync(TOKENIZER, 'utf8')) as { model: { vocab: Record<string, number> } };
  hf.model.vocab = Object.fromEntries(Object.entries(hf.model.vocab).filter(([, id]) => id < 300));
  fs.writeFileSync(smallTokenizer, JSON.stringify(hf));
  const broken = path.join(dir, 'broken-tokenizer.json');
  fs.writeFileSync(broken, '{"model": ');
  const noText = path.join(dir, 'no-text.jsonl');
  fs.writeFileSync(noText, '{"text": "fine", "label": "a"}\n{"body": "where is it", "label": "b"}\n');
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    [
      'missing text key',
      { data: { ...runConfig(dir).data, train: noText } },
      /no-text\.jsonl:2: has no "text" key \(data\.text\) on this line; expected a text under "text" in every object \(keys here: "body", "label"\)/,
    ],
    [
      'tokenizer.json that does not parse',
      { teacher: { ...runConfig(dir).teacher, tokenizer: broken } },
      /teacher\.tokenizer.*broken-tokenizer\.json: is not valid JSON/,
    ],
    [
      "tokenizer whose vocabulary is not the teacher's",
      { teacher: { ...runConfig(dir).teacher, tokenizer: smallTokenizer } },
      /small-tokenizer\.json: has a vocabulary of 300 tokens, but the token embedding "[^"]+" of the teacher .* has 600 rows; expected the teacher's own tokenizer\.json/,
    ],
    [
      'ONNX teacher whose inputs are not token ids',
      { teacher: { ...runConfig(dir).teacher, path: path.join(root, 'test', 'fixtures', 'onnx', 'tiny-mlp.onnx') } },
      /teacher\.path.*tiny-mlp\.onnx: takes input "input" \(float32 \[[^\]]+\]\), which is not token ids; a text teacher takes token ids: int64 \(or int32\) inputs named input_ids, attention_mask/,
    ],
    [
      'normalised token ids',
      { data: { ...runConfig(dir).data, normalize: 'scale' } },
      /data\.normalize: token ids are not normalised; expected "none", found "scale"/,
    ],
    ['a backend without a kernel the text student needs', { backend: 'wasm' }, /wasm.*UnsortedSegmentSum/],
  ];
  for (const [name, over, message] of cases) {
    const config = writeConfig(dir, 'bad', runConfig(dir, over));
    const r = runCli(['train', config]);
    assert.equal(r.code, 2, `${name}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, message, name);
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${name}: no stack trace`);
    assert.deepEqual(runFolders(dir), [], `${name}: no run folder`);
    assert.equal(fs.existsSync(path.join(dir, 'cache')), false, `${name}: no cache written`);
  }
});

test('a text run: ONNX transformer teacher (its own tokenizer) distilled into a fastText student, exported and timed', () => {
  const dir = tempDir('text-run');
  const config = writeConfig(dir, 'text', runConfig(dir, { backend: 'auto' }));
  const r = runCli(['train', config]);
  assert.equal(r.code, 0, r.stderr);
  const [run] = runFolders(dir);
  const events = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'));
  const finished = events.find((e) => e.type === 'run_finished');
  assert.ok(finished && finished.type === 'run_finished');
  const byModel = new Map(finished.summary.map((s) => [s.model, s]));
  // The teacher is evaluated by our pipeline exactly as PyTorch scored it on the same test file.
  assert.ok(Math.abs(byModel.get('teacher')!.accuracy - golden.testAccuracy) < 1e-6);
  assert.ok(byModel.has('scratch') && byModel.has('distilled'));
  const onnxArtifact = events.find((e) => e.type === 'artifact' && e.kind === 'student-onnx');
  assert.ok(onnxArtifact && onnxArtifact.type === 'artifact' && fs.existsSync(onnxArtifact.path));
  assert.ok((onnxArtifact.maxAbsDiff ?? 1) <= 1e-5);
  const latency = finished.latency ?? [];
  assert.ok(latency.some((l) => l.model === 'teacher' && l.runtime === 'onnxruntime cpu'));
  assert.ok(latency.some((l) => l.model === 'student' && l.runtime === 'onnxruntime cpu'));
  const teacherOutputs = events.find((e) => e.type === 'teacher_outputs');
  assert.ok(teacherOutputs && teacherOutputs.type === 'teacher_outputs' && teacherOutputs.cache?.hit === false);
  // The student's word vocabulary travels with it: without it its ids mean nothing.
  const recipe = JSON.parse(fs.readFileSync(path.join(run, 'artifacts', 'text-input.json'), 'utf8')) as {
    type: string;
    vocabulary: string[];
    maxLength: number;
  };
  assert.equal(recipe.type, 'words');
  assert.deepEqual(recipe.vocabulary.slice(0, 2), ['[PAD]', '[UNK]']);
  assert.equal(recipe.maxLength, 24);
  // A second run with another student tokenisation reuses the teacher's cached logits (keyed by its own ids).
  const again = writeConfig(
    dir,
    'again',
    runConfig(dir, {
      backend: 'auto',
      baseline: false,
      export: { onnx: false },
      bench: { enabled: false },
      train: { epochs: 1 },
      data: { ...runConfig(dir).data, maxLength: 16 },
    }),
  );
  assert.equal(runCli(['train', again]).code, 0);
  const second = runFolders(dir).find((d) => d !== run)!;
  const hit = parseEvents(fs.readFileSync(path.join(second, 'events.jsonl'), 'utf8')).find(
    (e) => e.type === 'teacher_outputs',
  );
  assert.ok(hit && hit.type === 'teacher_outputs' && hit.cache?.hit === true);
});
