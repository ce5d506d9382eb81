import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeScaffold, ScaffoldError, type ScaffoldAnswers } from '../src/extension/scaffold.ts';
import { loadConfigFile } from '../src/core/config/load.ts';
import { demoDataDir, demoTeacherPath } from '../src/core/paths.ts';
import { runCli, tempDir } from './helpers/cli.ts';

const base: ScaffoldAnswers = {
  name: 'kd',
  data: { source: 'demo' },
  teacher: { source: 'demo' },
  student: { preset: 'mlp', width: 32 },
  method: 'kd',
  temperature: 3,
  alpha: 0.2,
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
  assert.equal(config.train.epochs, 5);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).$schema, undefined, 'the extension binds the schema itself');
  const r = runCli(['validate', file]);
  assert.equal(r.code, 0, r.stderr);
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
    () => writeScaffold(dir, { ...base, name: 'neg', temperature: -1 }),
    (e: unknown) => e instanceof ScaffoldError && /temperature|> 0/.test(e.message),
  );
  assert.ok(!fs.existsSync(path.join(dir, 'neg.distill.json')));
  assert.throws(
    () =>
      writeScaffold(dir, {
        ...base,
        name: 'nofile',
        data: { source: 'csv', train: path.join(dir, 'missing.csv'), label: -1 },
      }),
    /does not exist/,
  );
  assert.ok(!fs.existsSync(path.join(dir, 'nofile.distill.json')));
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
