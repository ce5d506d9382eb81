import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import {
  writeScaffold,
  scaffoldProblems,
  ScaffoldError,
  dataChoices,
  defaultLayerPair,
  methodChoices,
  methodTerms,
  presetLayerNames,
  strategyChoices,
  studentChoices,
  studentLayerNames,
  teacherChoices,
  teacherLayerNames,
  termChoices,
  PRE_TRAINING_TERMS,
  CONFIG_ONLY_DATA_SOURCES,
  CONFIG_ONLY_TERMS,
  CONFIG_ONLY_STRATEGIES,
  unlabeledChoices,
  TERM_USES_TEACHER,
  DEFAULT_METHOD,
  methodConfig,
  type DataAnswer,
  type MethodAnswer,
  type ScaffoldAnswers,
  type TeacherAnswer,
  type TeacherKind,
  type UnlabeledAnswer,
} from '../src/extension/scaffold.ts';
import { dataSchema, lossTermSchema, configSchema } from '../src/core/config/schema.ts';
import { loadConfigFile } from '../src/core/config/load.ts';
import { demoDataDir, demoTeacherPath } from '../src/core/paths.ts';
import { TERMS } from '../src/core/distill/termRegistry.ts';
import { buildModel } from '../src/core/models/build.ts';
import { checkConfigFully } from '../src/core/run/prepare.ts';
import { runCli, tempDir, root } from './helpers/cli.ts';

const kd: MethodAnswer = { id: 'kd', temperature: 3, alpha: 0.2, labelSmoothing: 0.1, terms: [] };
const base: ScaffoldAnswers = {
  name: 'kd',
  data: { source: 'demo' },
  teacher: { source: 'demo' },
  student: { preset: 'mlp', width: 32 },
  method: kd,
  strategy: 'single',
  epochs: 5,
};

test('the demo project: a config the trainer accepts, with the answers in it', () => {
  const dir = tempDir('scaffold');
  const file = writeScaffold(dir, base);
  assert.equal(file, path.join(dir, 'kd.distill.json'));
  const { config } = loadConfigFile(file);
  assert.deepEqual(config.distill, { method: 'kd', temperature: 3, alpha: 0.2, divergence: 'forward' });
  assert.deepEqual(config.student.architecture, {
    type: 'mlp',
    hidden: [32],
    activation: 'relu',
    dropout: 0,
    batchNorm: false,
  });
  assert.deepEqual(config.strategy, { type: 'single' });
  assert.equal(config.train.epochs, 5);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).$schema, undefined, 'the extension binds the schema itself');
  const r = runCli(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
});

test("the wizard's first method is the demo's tuned kd setting", () => {
  const demo = JSON.parse(fs.readFileSync(path.join(root, 'media', 'demo', 'demo.distill.json'), 'utf8'));
  assert.deepEqual(methodConfig({ ...DEFAULT_METHOD }), demo.distill);
});

test('IDX folder, tfjs teacher and a teacher trained here: paths are written relative to the config', () => {
  const dir = tempDir('scaffold-idx');
  const file = writeScaffold(dir, {
    ...base,
    name: 'idx',
    data: { source: 'idx', dir: demoDataDir() },
    teacher: { source: 'tfjs', path: demoTeacherPath() },
  });
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.ok(!path.isAbsolute(raw.data.dir) && !path.isAbsolute(raw.teacher.path));
  assert.equal(loadConfigFile(file).config.teacher.source, 'tfjs');
  const trained = writeScaffold(dir, {
    ...base,
    name: 'trained',
    teacher: { source: 'train', preset: 'cnn', width: 16 },
    student: { preset: 'cnn', width: 4 },
  });
  const c = loadConfigFile(trained).config;
  assert.equal(c.teacher.source === 'train' && c.teacher.architecture.type, 'cnn');
});

test('refuses to overwrite, and refuses answers the trainer would refuse, writing nothing', () => {
  const dir = tempDir('scaffold-refuse');
  writeScaffold(dir, base);
  assert.throws(
    () => writeScaffold(dir, base),
    (e: unknown) => e instanceof ScaffoldError && /already exists/.test(e.message),
  );
  assert.throws(
    () => writeScaffold(dir, { ...base, name: 'neg', method: { ...kd, temperature: -1 } }),
    (e: unknown) => e instanceof ScaffoldError && /distill\.temperature: .*> 0/.test(e.message),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'neg.distill.json')));
  assert.throws(
    () =>
      writeScaffold(dir, {
        ...base,
        name: 'nofile',
        data: { source: 'csv', train: path.join(dir, 'missing.csv'), label: -1 },
      }),
    /data\.train: .*does not exist/,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'nofile.distill.json')));
});

test('the wizard offers every loss term, strategy and method of the schema, and every data source it has', () => {
  const schemaSources = dataSchema.options
    .map((o) => o.shape.source.value as string)
    .filter((s) => !CONFIG_ONLY_DATA_SOURCES.includes(s));
  // A source added to the schema that the wizard does not know fails here.
  assert.deepEqual([...dataChoices()].sort(), [...schemaSources].sort());
  const cnn = { preset: 'cnn' as const, width: 8 };
  const demo: TeacherAnswer = { source: 'demo' };
  // Pre-training terms and strategies with stage lists or further teachers are written in the config.
  const terms = lossTermSchema.options
    .map((o) => o.shape.type.value as string)
    .filter((t) => !PRE_TRAINING_TERMS.includes(t as never) && !CONFIG_ONLY_TERMS.includes(t as never));
  assert.deepEqual([...termChoices(cnn, demo)].sort(), [...terms].sort());
  const reached = new Set(methodChoices(cnn, demo).flatMap((id) => methodTerms({ id, terms: [] })));
  for (const t of terms) assert.ok(reached.has(t as never), `no method of the wizard trains with "${t}"`);
  const strategies = configSchema.shape.strategy
    .unwrap()
    .options.map((o) => o.shape.type.value as string)
    .filter((s) => !CONFIG_ONLY_STRATEGIES.includes(s as never));
  assert.deepEqual([...strategyChoices(kd)].sort(), [...strategies].sort());
  const methods = configSchema.shape.distill.unwrap().options.map((o) => o.shape.method.value as string);
  const written = new Set(methodChoices(cnn, demo).map((id) => scaffoldMethod(id)));
  assert.deepEqual([...written].sort(), [...methods].sort());
  const unlabeled = (dataSchema.options[0].shape as Record<string, unknown>).unlabeled;
  assert.equal(
    unlabeledChoices().length > 0,
    unlabeled !== undefined,
    'data.unlabeled is offered when the schema has it',
  );
  // Terms that read no teacher cannot feed a chain of students.
  assert.ok(!strategyChoices({ id: 'teacher_free', terms: [] }).includes('born_again'));
  assert.ok(!strategyChoices({ id: 'none', terms: [] }).includes('assistants'));
  assert.ok(strategyChoices({ id: 'none', terms: [] }).includes('mutual'));
});

function scaffoldMethod(id: MethodAnswer['id']): string {
  const dir = tempDir('scaffold-method');
  const file = writeScaffold(dir, {
    ...base,
    student: { preset: 'cnn', width: 4 },
    method: { ...kd, id, terms: ['kd'], ...layerPairs('cnn', { source: 'demo' }, { source: 'demo' }) },
  });
  return JSON.parse(fs.readFileSync(file, 'utf8')).distill.method;
}

test('which terms read a teacher: the extension table is the registry', () => {
  for (const [type, def] of Object.entries(TERMS))
    assert.equal(TERM_USES_TEACHER[type as keyof typeof TERM_USES_TEACHER], def.usesTeacher, type);
});

test('layer names of the presets are those the engine builds', () => {
  const cases = [
    { arch: { type: 'mlp' as const, hidden: [16] }, shape: [28, 28, 1] },
    { arch: { type: 'mlp' as const, hidden: [8, 8] }, shape: [4] },
    { arch: { type: 'cnn' as const, channels: [4], dense: [] }, shape: [28, 28, 1] },
    { arch: { type: 'cnn' as const, channels: [4, 8], dense: [16] }, shape: [28, 28, 1] },
  ];
  for (const { arch, shape } of cases) {
    const full = configSchema.shape.student.parse({ architecture: arch }).architecture;
    const model = buildModel(full, shape, 10);
    assert.deepEqual(
      presetLayerNames(arch, shape.length === 3),
      model.layers.map((l) => l.name),
      JSON.stringify(arch),
    );
    model.dispose();
  }
  assert.deepEqual(teacherLayerNames({ teacher: { source: 'demo' }, data: { source: 'demo' } }, demoTeacherPath()), [
    'conv2d_1',
    'maxpool_1',
    'conv2d_2',
    'maxpool_2',
    'flatten_1',
    'dense_1',
    'logits',
  ]);
});

/** Real files of every kind the wizard can point at. */
async function fixtures(dir: string) {
  const csv = path.join(dir, 'table.csv');
  fs.writeFileSync(csv, 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n');
  const images = path.join(dir, 'images');
  for (const c of ['cat', 'dog'])
    for (let i = 0; i < 3; i++) {
      fs.mkdirSync(path.join(images, c), { recursive: true });
      await sharp(new Uint8Array(28 * 28).fill(i * 40 + (c === 'cat' ? 0 : 100)), {
        raw: { width: 28, height: 28, channels: 1 },
      })
        .png()
        .toFile(path.join(images, c, `${i}.png`));
    }
  const npy = path.join(root, 'test', 'fixtures', 'npy');
  return { csv, images, npy };
}

function dataAnswers(source: DataAnswer['source'], f: Awaited<ReturnType<typeof fixtures>>): DataAnswer[] {
  switch (source) {
    case 'demo':
      return [{ source: 'demo' }];
    case 'idx':
      return [{ source: 'idx', dir: demoDataDir() }];
    case 'csv':
      return [{ source: 'csv', train: f.csv, label: 'y' }];
    case 'images':
      return [
        { source: 'images', train: f.images, height: 28, width: 28, channels: 'grayscale' },
        { source: 'images', train: f.images, test: f.images, height: 32, width: 24, channels: 'rgb' },
      ];
    case 'npy':
      return [
        {
          source: 'npy',
          train: { x: path.join(f.npy, 'images_nhwc.npy'), y: path.join(f.npy, 'labels.npy') },
          layout: 'nhwc',
        },
        {
          source: 'npy',
          train: { x: path.join(f.npy, 'savez.npz'), y: path.join(f.npy, 'savez.npz'), xKey: 'x', yKey: 'y' },
          layout: 'nchw',
        },
      ];
  }
}

function unlabeledAnswers(f: Awaited<ReturnType<typeof fixtures>>): UnlabeledAnswer[] {
  const all: Record<UnlabeledAnswer['source'], UnlabeledAnswer> = {
    images: { source: 'images', dir: f.images },
    npy: { source: 'npy', x: path.join(f.npy, 'images_nhwc.npy') },
    idx: { source: 'idx', images: path.join(demoDataDir(), 't10k-images-idx3-ubyte.gz') },
    csv: { source: 'csv', file: f.csv },
  };
  return unlabeledChoices().map((s) => all[s]);
}

function teacherAnswer(kind: TeacherKind): TeacherAnswer {
  if (kind === 'demo') return { source: 'demo' };
  if (kind === 'tfjs') return { source: 'tfjs', path: demoTeacherPath() };
  if (kind === 'onnx') return { source: 'onnx', path: path.join(root, 'test', 'fixtures', 'onnx', 'tiny-cnn.onnx') };
  return { source: 'train', preset: kind, width: kind === 'cnn' ? 8 : 16 };
}

/** The layer pairs the wizard proposes (for ONNX the user types a value name). */
function layerPairs(preset: 'mlp' | 'cnn', data: DataAnswer, teacher: TeacherAnswer) {
  const a = { data, teacher, student: { preset, width: 4 } };
  const s = studentLayerNames(a);
  const t = teacherLayerNames(a, demoTeacherPath());
  const pair = (kind: 'hint' | 'attention') => {
    const p = defaultLayerPair(kind, s, t);
    return { ...p, teacher: p.teacher || '/relu2/Relu_output_0' };
  };
  return { hint: pair('hint'), attention: pair('attention') };
}

test('every combination the wizard can produce validates against the schema and the files', async () => {
  const dir = tempDir('scaffold-all');
  const f = await fixtures(dir);
  let count = 0;
  for (const source of dataChoices())
    for (const data of dataAnswers(source, f))
      for (const teacherKind of teacherChoices(data))
        for (const preset of studentChoices(data)) {
          const teacher = teacherAnswer(teacherKind);
          const student = { preset, width: 4 };
          for (const id of methodChoices(student, teacher)) {
            const termSets =
              id === 'combined'
                ? [termChoices(student, teacher), ...termChoices(student, teacher).map((t) => [t])]
                : [[]];
            for (const terms of termSets) {
              const method: MethodAnswer = { ...kd, id, terms, ...layerPairs(preset, data, teacher) };
              for (const strategy of strategyChoices(method)) {
                const a: ScaffoldAnswers = { ...base, name: `c${count}`, data, teacher, student, method, strategy };
                assert.deepEqual(scaffoldProblems(dir, a), [], JSON.stringify(a));
                count++;
              }
            }
          }
        }
  for (const unlabeled of unlabeledAnswers(f))
    for (const method of [kd, { ...kd, pseudoLabels: 0.9 }, { ...kd, id: 'none' as const }]) {
      const a = { ...base, unlabeled, method };
      assert.deepEqual(scaffoldProblems(dir, a), [], JSON.stringify(a));
      count++;
    }
  assert.ok(count > 500, `${count} combinations`);
});

test('the trainer accepts every method and strategy of the wizard on the demo (layers, teacher, chains)', async () => {
  const dir = tempDir('scaffold-semantic');
  const data: DataAnswer = { source: 'demo' };
  const teacher: TeacherAnswer = { source: 'demo' };
  const cases: ScaffoldAnswers[] = [];
  for (const preset of ['mlp', 'cnn'] as const) {
    const student = { preset, width: 4 };
    for (const id of methodChoices(student, teacher)) {
      const terms = id === 'combined' ? termChoices(student, teacher) : [];
      cases.push({ ...base, student, method: { ...kd, id, terms, ...layerPairs(preset, data, teacher) } });
    }
  }
  const cnn = { preset: 'cnn' as const, width: 4 };
  const hint = { ...kd, id: 'hint' as const, ...layerPairs('cnn', data, teacher) };
  for (const strategy of strategyChoices(hint)) cases.push({ ...base, student: cnn, method: hint, strategy });
  // A teacher trained in the run: its layer names come from the preset.
  const trained: TeacherAnswer = { source: 'train', preset: 'cnn', width: 8 };
  const attention = { ...kd, id: 'attention' as const, ...layerPairs('cnn', data, trained) };
  cases.push({ ...base, student: cnn, teacher: trained, method: attention });
  // An unlabeled transfer set of the same images, with pseudo-labels.
  const unlabeled: UnlabeledAnswer = { source: 'idx', images: path.join(demoDataDir(), 't10k-images-idx3-ubyte.gz') };
  if (unlabeledChoices().includes('idx')) cases.push({ ...base, unlabeled, method: { ...kd, pseudoLabels: 0.9 } });
  for (const [i, a] of cases.entries()) {
    const file = writeScaffold(dir, { ...a, name: `s${i}` });
    // The cpu backend: available everywhere, and choosing one is not what this checks.
    const text = JSON.parse(fs.readFileSync(file, 'utf8'));
    fs.writeFileSync(file, JSON.stringify({ ...text, backend: 'cpu' }));
    await assert.doesNotReject(checkConfigFully(file), `${JSON.stringify(a.method)} ${a.strategy}`);
    if (a.unlabeled) assert.deepEqual(text.distill.pseudoLabels, { threshold: 0.9 });
  }
});

test('semantic validation for the editor: problems located in the file, as JSON', () => {
  const dir = tempDir('semantic');
  fs.writeFileSync(path.join(dir, 't.csv'), 'a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n');
  const text = JSON.stringify(
    {
      data: { source: 'csv', train: 't.csv', batchSize: 2 },
      teacher: { source: 'demo' },
      student: { architecture: { type: 'mlp' } },
    },
    null,
    2,
  );
  const file = path.join(dir, 's.distill.json');
  fs.writeFileSync(file, text);
  const r = runCli(['validate', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const { problems } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(problems.length, 2, 'the input shape and the number of classes');
  for (const p of problems) assert.deepEqual(p.path, ['teacher', 'source']);
  assert.match(problems[1].message, /outputs shape \[10\], but the data has 2 classes/);
  assert.equal(problems[0].line, text.split('\n').findIndex((l) => l.includes('"teacher"')) + 2);
  assert.match(problems[0].message, /takes input of shape \[28, 28, 1\], but the data has examples of shape \[2\]/);
});
