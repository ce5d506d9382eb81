import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfigText, loadConfigFile } from '../src/core/config/load.ts';
import { ConfigError } from '../src/core/config/problems.ts';
import { configJsonSchema, configReferenceMarkdown } from '../src/core/config/jsonSchema.ts';

const root = path.join(__dirname, '..');
const file = path.join(os.tmpdir(), 'x.distill.json');

function problems(text: string) {
  return validateConfigText(text, file).problems;
}

const minimal = { data: { source: 'demo' }, teacher: { source: 'demo' }, student: { architecture: { type: 'mlp' } } };

test('a minimal config gets every default, and paths resolve against the config folder', () => {
  const r = validateConfigText(JSON.stringify(minimal), '/some/where/x.distill.json');
  assert.deepEqual(r.problems, []);
  const c = r.config!;
  assert.equal(c.train.epochs, 10);
  assert.equal(c.train.optimizer.type, 'adam');
  assert.equal(c.train.optimizer.learningRate, 1e-3);
  assert.deepEqual(c.distill, { method: 'kd', temperature: 4, alpha: 0.5, divergence: 'forward' });
  assert.equal(c.baseline, true);
  assert.equal(c.output.dir, '/some/where/.distill/runs');
  assert.equal(c.cache.dir, '/some/where/.distill/cache');
  assert.deepEqual(c.strategy, { type: 'single' });
  assert.deepEqual(c.student.architecture, {
    type: 'mlp',
    hidden: [64],
    activation: 'relu',
    dropout: 0,
    batchNorm: false,
  });
});

test('every problem is reported at once with its line, column, path, what was found and what is expected', () => {
  const text = [
    '{',
    '  "data": { "source": "demo", "batchSize": -3, "normalise": "scale" },',
    '  "teacher": { "source": "tfjss" },',
    '  "student": { "architecture": { "type": "mlp", "hiden": [32] } },',
    '  "distill": { "method": "kd", "temperature": 0, "alpha": 1.5 },',
    '  "train": { "epochs": 0, "optimizer": { "type": "adam", "learningRate": "fast" } }',
    '}',
  ].join('\n');
  const ps = problems(text);
  const byPath = Object.fromEntries(ps.map((p) => [p.path.join('.'), p]));
  assert.equal(ps.length, 8, ps.map((p) => p.message).join('\n'));
  assert.match(byPath['data.batchSize'].message, /expected .*> 0, found number -3/);
  assert.equal(byPath['data.batchSize'].line, 2);
  assert.equal(byPath['data.normalise'].message, 'unknown key "normalise"; did you mean "normalize"?');
  assert.equal(byPath['data.normalise'].column, text.split('\n')[1].indexOf('"normalise"') + 1);
  assert.match(
    byPath['teacher.source'].message,
    /expected one of "demo", "tfjs", "onnx", "train", found the string "tfjss" \(did you mean "tfjs"\?\)/,
  );
  assert.equal(byPath['teacher.source'].line, 3);
  assert.match(byPath['student.architecture.hiden'].message, /did you mean "hidden"/);
  assert.match(byPath['distill.temperature'].message, /> 0, found number 0/);
  assert.match(byPath['distill.alpha'].message, /<= 1, found number 1.5/);
  assert.match(byPath['train.epochs'].message, /> 0, found number 0/);
  assert.match(byPath['train.optimizer.learningRate'].message, /expected a number, found the string "fast"/);
  assert.equal(byPath['train.optimizer.learningRate'].line, 6);
});

test('invalid JSON is located; comments are refused', () => {
  const [p] = problems('{\n  "data": { "source": "demo" },\n  "teacher" { }\n}');
  assert.equal(p.line, 3);
  assert.match(p.message, /invalid JSON: expected ":"/);
  const [c] = problems('{ // hi\n}');
  assert.match(c.message, /comments are not allowed/);
  assert.match(problems('')[0].message, /empty|expected a value/);
});

test('a missing required section names what is expected', () => {
  const ps = problems(JSON.stringify({ data: { source: 'demo' }, teacher: { source: 'demo' } }));
  assert.equal(ps.length, 1);
  assert.deepEqual(ps[0].path, ['student']);
  assert.match(ps[0].message, /is required; expected an object/);
});

test('missing files, folders given as files, and files given as folders are reported at their fields', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-config-'));
  fs.writeFileSync(path.join(dir, 'afile'), 'x');
  fs.mkdirSync(path.join(dir, 'adir'));
  const cfg = {
    data: { source: 'idx', dir: 'afile', train: { images: 'nope.gz', labels: 'adir' } },
    teacher: { source: 'tfjs', path: 'missing/model.json' },
    student: { architecture: { type: 'mlp' } },
  };
  const cfgFile = path.join(dir, 'c.distill.json');
  fs.writeFileSync(cfgFile, JSON.stringify(cfg, null, 2));
  const err = (() => {
    try {
      loadConfigFile(cfgFile);
    } catch (e) {
      return e as ConfigError;
    }
  })();
  assert.ok(err instanceof ConfigError);
  const msgs = err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  assert.ok(
    msgs.some((m) => /^data\.dir: .*afile is a file; expected a folder/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => /^data\.train\.images: .*nope\.gz: the train images file does not exist/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => /^data\.train\.labels: .*adir: is a folder; expected a train labels file/.test(m)),
    msgs.join('\n'),
  );
  assert.ok(
    msgs.some((m) => /^teacher\.path: .*model\.json: the teacher model file does not exist/.test(m)),
    msgs.join('\n'),
  );
  assert.match(err.message, new RegExp(`${cfgFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: data\\.dir:`));
});

test('the committed JSON Schema and README reference are generated from the schema (run `npm run schema`)', () => {
  const committed = JSON.parse(fs.readFileSync(path.join(root, 'media', 'distill.schema.json'), 'utf8'));
  assert.deepEqual(committed, configJsonSchema());
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(configReferenceMarkdown()), 'README config reference is stale: run npm run schema');
});

test('the demo configs validate', () => {
  for (const f of ['media/demo/demo.distill.json']) {
    const r = validateConfigText(fs.readFileSync(path.join(root, f), 'utf8'), path.join(root, f));
    assert.deepEqual(r.problems, [], f);
  }
});
