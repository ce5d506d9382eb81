/** Runs the real, built CLI as a child process (as users and the extension do). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const root = path.join(__dirname, '..', '..');
export const cliPath = path.join(root, 'dist', 'trainer', 'cli.js');

export function runCli(args: string[], cwd = root): { code: number; stdout: string; stderr: string } {
  if (!fs.existsSync(cliPath)) throw new Error('dist/trainer/cli.js is missing: npm test builds it first');
  const r = spawnSync(process.execPath, [cliPath, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function startCli(args: string[], cwd = root): ChildProcess {
  return spawn(process.execPath, [cliPath, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `distill-${prefix}-`));
}

/** Writes a config into `dir` and returns its path. */
export function writeConfig(dir: string, name: string, config: unknown): string {
  const file = path.join(dir, `${name}.distill.json`);
  fs.writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** True when the native tensorflow backend loads here (scripts/setup-native-tfjs.sh was run). */
export function tensorflowAvailable(): boolean {
  const r = spawnSync(process.execPath, ['-e', "require('@tensorflow/tfjs-node')"], {
    cwd: root,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
  });
  return r.status === 0;
}

/** A small but real distillation on the embedded data: the demo teacher, a tiny MLP student. */
export function smallConfig(overrides: Record<string, unknown> = {}) {
  return {
    name: 'small',
    data: { source: 'demo', trainLimit: 600, batchSize: 64 },
    teacher: { source: 'demo' },
    student: { architecture: { type: 'mlp', hidden: [16] } },
    distill: { method: 'kd', temperature: 2, alpha: 0.5 },
    train: { epochs: 4, logEvery: 5, optimizer: { type: 'adam', learningRate: 0.005 } },
    output: { dir: 'runs' },
    ...overrides,
  };
}

export function runFolders(dir: string): string[] {
  const runs = path.join(dir, 'runs');
  return fs.existsSync(runs) ? fs.readdirSync(runs).map((r) => path.join(runs, r)) : [];
}
