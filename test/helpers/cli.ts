/** Runs the real, built CLI as a child process (as users and the extension do). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { parseEvents, type RunEvent } from '../../src/protocol/events.ts';

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

/**
 * Runs the child in short bursts (SIGCONT, a few ms, SIGSTOP) and reads its run's events only while
 * it is stopped, until they satisfy `ready`; returns the run folder with the child still stopped,
 * for `signalStopped`. Polling a free-running child misses short windows on a loaded machine (a
 * small run's whole distillation phase takes a third of a second); a stopped one cannot move on.
 * Fails at once, with its stderr, if the child exits first.
 */
export async function stopWhen(child: ChildProcess, dir: string, ready: (es: RunEvent[]) => boolean): Promise<string> {
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  for (const deadline = Date.now() + 300_000; Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 5));
    if (exited()) break;
    child.kill('SIGSTOP');
    const [run] = runFolders(dir);
    const file = run && path.join(run, 'events.jsonl');
    if (file && fs.existsSync(file) && ready(parseEvents(fs.readFileSync(file, 'utf8')))) return run;
    child.kill('SIGCONT');
  }
  if (!exited()) child.kill('SIGKILL');
  const [run] = runFolders(dir);
  const last =
    run && fs.existsSync(path.join(run, 'events.jsonl'))
      ? parseEvents(fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8'))
          .slice(-3)
          .map((e) => e.type)
      : [];
  throw new Error(
    `the run never reached the expected point (its last events: ${last.join(', ') || 'none'})\n${stderr}`,
  );
}

/** Sends `signal` to a child that `stopWhen` left stopped and lets it act on it; resolves with its exit. */
export async function signalStopped(
  child: ChildProcess,
  signal: NodeJS.Signals,
): Promise<[number | null, NodeJS.Signals | null]> {
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill(signal);
  child.kill('SIGCONT'); // a stopped process acts on SIGTERM only once continued (SIGKILL needs nothing)
  return exit;
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
