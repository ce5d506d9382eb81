import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { validateConfigText } from '../src/core/config/load.ts';
import { parseEvents } from '../src/protocol/events.ts';
import { runCli, tempDir, writeConfig, smallConfig, runFolders } from './helpers/cli.ts';

test('a diverging loss stops the run at once, naming the term, the step and the last good checkpoint', () => {
  const dir = tempDir('nan');
  // A learning rate of 1e12 with SGD blows the weights up within a few steps of the first phase.
  const file = writeConfig(
    dir,
    'nan',
    smallConfig({
      backend: 'wasm',
      train: { epochs: 3, logEvery: 1, optimizer: { type: 'sgd', learningRate: 1e12, momentum: 0 } },
    }),
  );
  const r = runCli(['train', file], dir);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(
    r.stderr,
    /distill: training stopped: the (hard|total) loss became (NaN|Infinity) at scratch step \d+ \(epoch 1\); no checkpoint was written before it/,
  );
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  const [run] = runFolders(dir);
  assert.equal(JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8')).status, 'failed');
  const failed = parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8')).at(-1)!;
  assert.ok(failed.type === 'run_failed' && failed.kind === 'user' && failed.phase === 'scratch');
});

test('a reader tolerates a torn last line (a trainer killed mid-write), and only that', () => {
  const good = '{"v":1,"t":"x","type":"warning","message":"a"}\n';
  assert.equal(parseEvents(`${good}${good}{"v":1,"t":"x","ty`).length, 2);
  assert.throws(() => parseEvents(`${good}{"v":1,"t":"x","ty\n${good}`), /events line 2 is not valid JSON/);
  assert.throws(
    () => parseEvents('{"v":99,"t":"x","type":"warning"}\n'),
    /version 99; this reader understands version 1/,
  );
});

const arbitraryJson = fc.jsonValue({ maxDepth: 5 });

test('property: the validator never throws, whatever the text (random JSON, mutated configs, garbage)', () => {
  const base = JSON.stringify(smallConfig(), null, 2);
  const paths: string[][] = [
    ['data'],
    ['data', 'batchSize'],
    ['data', 'source'],
    ['teacher'],
    ['teacher', 'source'],
    ['student', 'architecture'],
    ['student', 'architecture', 'type'],
    ['student', 'architecture', 'hidden'],
    ['distill', 'temperature'],
    ['distill', 'alpha'],
    ['distill', 'method'],
    ['train', 'epochs'],
    ['train', 'optimizer'],
    ['train', 'schedule'],
    ['output'],
    ['bench', 'batchSizes'],
  ];
  const mutated = fc.tuple(fc.constantFrom(...paths), arbitraryJson).map(([p, value]) => {
    const c = JSON.parse(base);
    let o = c;
    for (const k of p.slice(0, -1)) o = o[k] = typeof o[k] === 'object' && o[k] !== null ? o[k] : {};
    o[p.at(-1)!] = value;
    return JSON.stringify(c);
  });
  const truncated = fc.nat({ max: base.length }).map((n) => base.slice(0, n));
  const text = fc.oneof(
    arbitraryJson.map((v) => JSON.stringify(v)),
    mutated,
    truncated,
    fc.string(),
  );
  fc.assert(
    fc.property(text, (t) => {
      const r = validateConfigText(t, '/tmp/prop.distill.json', { checkFiles: false });
      // Either a config or at least one located problem with a message; never both, never neither.
      assert.equal(r.config === undefined, r.problems.length > 0);
      for (const p of r.problems) assert.ok(p.message.length > 0 && p.line >= 1 && p.column >= 1, JSON.stringify(p));
    }),
    { numRuns: 1500, seed: 42 },
  );
});

test(
  'a write error (the disk full) fails the run with the reason, and earlier checkpoints stay intact',
  { skip: process.platform !== 'linux' && 'needs Linux tmpfs' },
  (t) => {
    // The output folder sits on a tmpfs too small for the run's checkpoints.
    const dir = tempDir('full');
    const mnt = path.join(dir, 'mnt');
    fs.mkdirSync(mnt);
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=600k', 'tmpfs', mnt]).status === 0;
    if (!mounted) {
      t.skip('cannot mount a small tmpfs here (needs root)');
      return;
    }
    try {
      const file = writeConfig(
        dir,
        'full',
        smallConfig({
          backend: 'wasm',
          student: { architecture: { type: 'mlp', hidden: [96] } },
          train: { epochs: 6, checkpointEvery: 1 },
          output: { dir: mnt },
        }),
      );
      const r = runCli(['train', file], dir);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ENOSPC|no space left/i);
      const [run] = fs.readdirSync(mnt).map((d) => path.join(mnt, d));
      const record = JSON.parse(fs.readFileSync(path.join(run, 'run.json'), 'utf8'));
      assert.equal(record.status, 'failed');
      assert.match(record.error, /ENOSPC|no space left/i);
      // Every checkpoint that exists is complete: the failed one never appeared under its name.
      for (const phase of fs.readdirSync(path.join(run, 'checkpoints')))
        for (const c of fs.readdirSync(path.join(run, 'checkpoints', phase)).filter((n) => !n.startsWith('.'))) {
          const state = JSON.parse(fs.readFileSync(path.join(run, 'checkpoints', phase, c, 'state.json'), 'utf8'));
          assert.equal(state.phase, phase);
          assert.ok(fs.statSync(path.join(run, 'checkpoints', phase, c, 'model', 'weights.bin')).size > 0);
        }
    } finally {
      spawnSync('umount', [mnt]);
    }
  },
);

test(
  'an unreadable data file is reported at its field, for a user who cannot read it',
  {
    skip:
      (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/setpriv')) &&
      'needs root and setpriv to run the CLI as another user',
  },
  () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const dir = tempDir('unreadable');
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(path.join(dir, 'secret.csv'), 'a,y\n1,0\n2,1\n');
    fs.chmodSync(path.join(dir, 'secret.csv'), 0o000);
    const file = writeConfig(dir, 'unreadable', {
      data: { source: 'csv', train: 'secret.csv' },
      teacher: { source: 'demo' },
      student: { architecture: { type: 'mlp' } },
    });
    fs.chmodSync(file, 0o644);
    const cli = path.join(__dirname, '..', 'dist', 'trainer', 'cli.js');
    const r = spawnSync(
      '/usr/bin/setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, cli, 'validate', file],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /unreadable\.distill\.json:\d+:\d+: data\.train: .*secret\.csv: the train CSV file cannot be read \(permission denied\)/,
    );
  },
);
