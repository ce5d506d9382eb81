// Sweep plans: deterministic (task i is always the same config), every bad input located in the
// sweep file or config with one message, exit 2 and no sweep folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { planSweep, parseKey } from '../src/core/sweep/plan.ts';
import { createSweepFolder, readSweepPlan, taskStatuses } from '../src/core/sweep/folder.ts';
import { availableCores, childEnv, threadsPerChild } from '../src/core/sweep/local.ts';
import { ConfigError } from '../src/core/config/problems.ts';
import { sweepJsonSchema } from '../src/core/config/jsonSchema.ts';
import { MAX_SWEEP_TASKS } from '../src/core/sweep/schema.ts';
import { root, runCli, smallConfig, tempDir, writeConfig } from './helpers/cli.ts';

function sweepFile(dir: string, name: string, body: unknown): string {
  const file = path.join(dir, `${name}.sweep.json`);
  fs.writeFileSync(file, JSON.stringify(body, null, 2));
  return file;
}

/** The 1-based line and column of the first occurrence of `needle` in the file. */
function position(file: string, needle: string): string {
  const text = fs.readFileSync(file, 'utf8');
  const at = text.indexOf(needle);
  assert.ok(at >= 0, `${needle} is not in ${file}`);
  const before = text.slice(0, at).split('\n');
  return `${before.length}:${before[before.length - 1].length + 1}`;
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message.split('\n');
  }
  assert.fail('expected a ConfigError');
}

test('a grid sweep plans every combination crossed with seeds, the same way every time', () => {
  const dir = tempDir('sweep-plan');
  writeConfig(dir, 'base', smallConfig());
  const file = sweepFile(dir, 'grid', {
    config: 'base.distill.json',
    seeds: [3, 5],
    grid: { 'distill.temperature': [1, 4], 'distill.alpha': [0.2, 0.5, 0.8] },
  });
  const a = planSweep(file);
  const b = planSweep(file);
  assert.deepEqual(a, b);
  assert.equal(a.plan.mode, 'grid');
  assert.deepEqual(a.plan.keys, ['distill.temperature', 'distill.alpha']);
  assert.equal(a.plan.settings.length, 6);
  assert.equal(a.plan.tasks.length, 12);
  // The last key varies fastest; tasks are seed-major (every setting of the first seed first).
  assert.deepEqual(a.plan.settings[1].values, { 'distill.temperature': 1, 'distill.alpha': 0.5 });
  assert.equal(a.plan.settings[3].label, 'distill.temperature=4, distill.alpha=0.2');
  for (const task of a.plan.tasks) {
    assert.equal(task.index, [3, 5].indexOf(task.seed) * 6 + task.setting);
    const config = a.configs[task.index] as unknown as {
      train: { seed: number };
      distill: { temperature: number; alpha: number };
      seeds?: unknown;
      sweep?: unknown;
    };
    const values = a.plan.settings[task.setting].values;
    assert.equal(config.train.seed, task.seed);
    assert.equal(config.distill.temperature, values['distill.temperature']);
    assert.equal(config.distill.alpha, values['distill.alpha']);
    assert.equal(config.seeds, undefined);
    assert.equal(config.sweep, undefined);
  }
  // Paths in task configs are absolute, so they run from the sweep folder.
  assert.equal(a.configs[0].output.dir, path.join(dir, 'runs'));
});

test('random sampling is reproducible from its seed and stays in its ranges', () => {
  const dir = tempDir('sweep-random');
  writeConfig(
    dir,
    'base',
    smallConfig({
      sweep: {
        random: {
          samples: 6,
          seed: 7,
          space: {
            'distill.temperature': { type: 'uniform', low: 1, high: 8 },
            'train.optimizer.learningRate': { type: 'logUniform', low: 0.0001, high: 0.01 },
            'train.epochs': { type: 'int', low: 1, high: 3 },
            'distill.alpha': { type: 'choice', values: [0.1, 0.9] },
          },
        },
      },
    }),
  );
  const file = path.join(dir, 'base.distill.json');
  const a = planSweep(file);
  assert.deepEqual(planSweep(file).plan.settings, a.plan.settings);
  assert.equal(a.plan.mode, 'random');
  assert.equal(a.plan.tasks.length, 6); // no seeds: the config's train.seed, once
  for (const s of a.plan.settings) {
    const v = s.values as Record<string, number>;
    assert.ok(v['distill.temperature'] >= 1 && v['distill.temperature'] <= 8);
    assert.ok(v['train.optimizer.learningRate'] >= 0.0001 && v['train.optimizer.learningRate'] <= 0.01);
    assert.ok([1, 2, 3].includes(v['train.epochs']));
    assert.ok([0.1, 0.9].includes(v['distill.alpha']));
  }
  assert.ok(new Set(a.plan.settings.map((s) => s.values['distill.temperature'])).size > 1, 'the draws differ');
  const text = fs.readFileSync(file, 'utf8').replace('"seed": 7', '"seed": 8');
  fs.writeFileSync(file, text);
  assert.notDeepEqual(planSweep(file).plan.settings, a.plan.settings);
});

test('the sweep folder holds the plan, every task config and an empty run folder per task', () => {
  const dir = tempDir('sweep-folder');
  writeConfig(dir, 'base', smallConfig({ seeds: [0, 1] }));
  const planned = planSweep(path.join(dir, 'base.distill.json'));
  assert.equal(planned.plan.mode, 'seeds');
  const { dir: sweepDir, plan } = createSweepFolder(planned);
  const again = createSweepFolder(planned); // the same second: a distinct folder
  assert.notEqual(again.dir, sweepDir);
  assert.deepEqual(readSweepPlan(sweepDir), plan);
  assert.equal(path.dirname(sweepDir), path.join(dir, 'runs'));
  for (const task of plan.tasks) {
    assert.deepEqual(fs.readdirSync(path.join(sweepDir, task.dir)), []);
    const config = JSON.parse(fs.readFileSync(path.join(sweepDir, task.config), 'utf8'));
    assert.deepEqual(config, JSON.parse(JSON.stringify(planned.configs[task.index])));
  }
  assert.deepEqual(
    taskStatuses(sweepDir, plan).map((t) => t.state),
    ['pending', 'pending'],
  );
  // Nothing but the two sweep folders (no temporary folder left behind).
  assert.equal(fs.readdirSync(path.join(dir, 'runs')).length, 2);
});

test('a key the config does not have is reported at the key, with what was found and what is expected', () => {
  const dir = tempDir('sweep-key');
  writeConfig(dir, 'base', smallConfig());
  const file = sweepFile(dir, 'bad', {
    config: 'base.distill.json',
    grid: { 'distill.temprature': [1, 2], 'train.epochs': [1, 'two'] },
  });
  const problems = problemsOf(() => planSweep(file));
  assert.equal(problems.length, 2, problems.join('\n'));
  assert.equal(
    problems[0],
    `${file}:${position(file, '"distill.temprature"')}: grid.distill.temprature: "distill.temprature" is not a config key: distill has no key "temprature"; did you mean "temperature"?`,
  );
  assert.equal(
    problems[1],
    `${file}:${position(file, '"two"')}: grid.train.epochs[1]: train.epochs = "two": expected a number, found the string "two"`,
  );
});

test('a sweep inside a config is located in the config; values pass the config validation', () => {
  const dir = tempDir('sweep-inline');
  const file = writeConfig(
    dir,
    'base',
    smallConfig({ sweep: { grid: { 'distill.alpha': [0.5, 1.5], 'train.seed': [1, 2] } } }),
  );
  const problems = problemsOf(() => planSweep(file));
  assert.ok(
    problems.some((p) =>
      p.startsWith(`${file}:${position(file, '"train.seed"')}: sweep.grid.train.seed: "train.seed" is set by "seeds"`),
    ),
    problems.join('\n'),
  );
  fs.writeFileSync(file, JSON.stringify(smallConfig({ sweep: { grid: { 'distill.alpha': [0.5, 1.5] } } }), null, 2));
  const [problem] = problemsOf(() => planSweep(file));
  assert.match(
    problem,
    new RegExp(
      `:${position(file, '1.5')}: sweep\\.grid\\.distill\\.alpha\\[1\\]: distill\\.alpha = 1\\.5: expected a number <= 1, found number 1\\.5$`,
    ),
  );
});

test('an empty grid and a sweep over the task limit are refused with one located message', () => {
  const dir = tempDir('sweep-limits');
  writeConfig(dir, 'base', smallConfig());
  const empty = sweepFile(dir, 'empty', { config: 'base.distill.json', grid: {} });
  assert.deepEqual(
    problemsOf(() => planSweep(empty)),
    [
      `${empty}:${position(empty, '{}')}: grid: the grid is empty; expected at least one config key with a list of values, found an object`,
    ],
  );
  const values = Array.from({ length: 40 }, (_, i) => i + 1);
  const big = sweepFile(dir, 'big', {
    config: 'base.distill.json',
    seeds: [0, 1],
    grid: { 'train.epochs': values, 'data.batchSize': values },
  });
  const [problem] = problemsOf(() => planSweep(big));
  assert.ok(
    problem.includes(`40 x 40 settings x 2 seeds = 3200 tasks; the limit is ${MAX_SWEEP_TASKS} tasks per sweep`),
    problem,
  );
});

test('the CLI exits 2 with the located message and writes no sweep folder', () => {
  const dir = tempDir('sweep-cli-errors');
  writeConfig(dir, 'base', smallConfig());
  const bad = sweepFile(dir, 'bad', { config: 'base.distill.json', grid: { 'distill.alpha': ['high'] } });
  for (const args of [
    ['sweep', 'plan', bad],
    ['sweep', 'run', bad, '--parallel', '2'],
  ]) {
    const r = runCli(args, dir);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `distill: ${bad}:${position(bad, '"high"')}: grid.distill.alpha[0]: distill.alpha = "high": expected a number, found the string "high"`,
    );
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/); // no stack
  }
  const seeds = runCli(['train', path.join(dir, 'base.distill.json'), '--seeds', '0,x'], dir);
  assert.equal(seeds.code, 2);
  assert.match(seeds.stderr, /--seeds must be integers >= 0 separated by commas, found "x"/);
  assert.equal(fs.existsSync(path.join(dir, 'runs')), false);
});

test('under Slurm the cores to share are the allocation, not the machine', () => {
  assert.equal(availableCores({}, 64), 64);
  assert.equal(availableCores({ SLURM_CPUS_PER_TASK: '4', SLURM_JOB_CPUS_PER_NODE: '64' }, 64), 4);
  assert.equal(availableCores({ SLURM_JOB_CPUS_PER_NODE: '8' }, 64), 8);
  // 16 CPUs on nodes 0 and 1, 6 on node 2.
  assert.equal(availableCores({ SLURM_JOB_CPUS_PER_NODE: '16(x2),6', SLURM_NODEID: '2' }, 64), 6);
  assert.equal(availableCores({ SLURM_JOB_CPUS_PER_NODE: '16(x2),6', SLURM_NODEID: '1' }, 64), 16);
  assert.equal(availableCores({ SLURM_CPUS_PER_TASK: '32' }, 8), 8, 'never more than this process may use');
  assert.equal(availableCores({ SLURM_CPUS_PER_TASK: '' }, 12), 12, 'an empty value is not an allocation');
  // Two array tasks of 4 CPUs on one 16-core node: each task's one child gets 4 threads, not 16.
  assert.equal(threadsPerChild(availableCores({ SLURM_CPUS_PER_TASK: '4' }, 16), 1), 4);
});

test('key paths, thread shares and the editor schema', () => {
  assert.deepEqual(parseKey('distill.terms.0.weight'), ['distill', 'terms', 0, 'weight']);
  assert.match(String(parseKey('distill..alpha')), /not a config key path/);
  assert.match(String(parseKey('seeds')), /cannot be swept/);
  assert.equal(threadsPerChild(16, 4), 4);
  assert.equal(threadsPerChild(2, 2), 1);
  assert.equal(threadsPerChild(2, 8), 1);
  const env = childEnv(3, { PATH: '/bin', OMP_NUM_THREADS: '5' });
  assert.equal(env.TF_NUM_INTRAOP_THREADS, '3');
  assert.equal(env.TF_NUM_INTEROP_THREADS, '1');
  assert.equal(env.OMP_NUM_THREADS, '5', 'a value the user set is kept');
  const committed = JSON.parse(fs.readFileSync(path.join(root, 'media', 'sweep.schema.json'), 'utf8'));
  assert.deepEqual(committed, sweepJsonSchema(), 'media/sweep.schema.json is stale: run npm run schema');
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  assert.ok(
    manifest.contributes.jsonValidation.some(
      (v: { fileMatch: string; url: string }) =>
        v.fileMatch === '*.sweep.json' && v.url === './media/sweep.schema.json',
    ),
  );
  // The editor's schema completes swept keys and checks their values with the key's own schema
  // (ajv: eslint's JSON Schema validator, draft-07 like VS Code's).
  const Ajv = require('ajv') as new (o: object) => { compile: (s: object) => (v: unknown) => boolean };
  const validate = new Ajv({ strict: false }).compile(committed);
  assert.equal(
    validate(JSON.parse(fs.readFileSync(path.join(root, 'media', 'demo', 'tune.sweep.json'), 'utf8'))),
    true,
  );
  assert.equal(validate({ config: 'a.distill.json', grid: { 'distill.alpha': ['high'] } }), false);
  assert.equal(validate({ config: 'a.distill.json', set: { 'bench.enabled': 'no' } }), false);
  const gridKeys = (committed as { properties: { grid: { properties: object } } }).properties.grid.properties;
  assert.ok('distill.temperature' in gridKeys);
  assert.ok(!('train.seed' in gridKeys));
  // The demo's tuning sweep plans.
  assert.equal(planSweep(path.join(root, 'media', 'demo', 'tune.sweep.json')).plan.tasks.length, 18);
});
