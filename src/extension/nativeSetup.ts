/**
 * "Set Up Native Backend": @tensorflow/tfjs-node into a folder of the extension's own (its global
 * storage), which the trainer then loads through DISTILL_NATIVE_DIR (src/core/nativeModules.ts).
 * Online: `npm install` of the package there (its install script downloads libtensorflow from
 * Google's storage). Where that download fails: scripts/setup-native-tfjs.sh --prefix, which builds
 * the addon against the tensorflow-cpu pip wheel. Child processes get argument arrays, never a
 * shell. Free of `vscode`.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pruneNativeDir } from '../core/nativeModules.ts';

/** The tfjs-node the setup installs: the version of the trainer's @tensorflow/tfjs (they share tfjs-core). */
export const TFJS_NODE_VERSION = '4.22.0';

export interface NodeAndNpm {
  /** A real Node.js (npm and tfjs-node's install script run on it). */
  node: string;
  /** npm's JavaScript entry (npm-cli.js), run as `node npm-cli.js ...`: no shell, no .cmd wrapper. */
  npmCli: string;
}

export interface ToolSearch {
  /** distill.nodePath, '' when unset. */
  nodePath: string;
  /** The editor's own runtime (process.execPath): a candidate only when it is a Node.js, not Electron. */
  execPath: string;
  pathEnv: string | undefined;
  platform: NodeJS.Platform;
}

const exists = (f: string) => {
  try {
    return fs.statSync(f).isFile();
  } catch {
    return false;
  }
};
const real = (f: string) => {
  try {
    return fs.realpathSync(f);
  } catch {
    return f;
  }
};

function onPath(name: string, s: ToolSearch): string | undefined {
  const names = s.platform === 'win32' ? [`${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of (s.pathEnv ?? '').split(s.platform === 'win32' ? ';' : ':').filter(Boolean))
    for (const n of names) if (exists(path.join(dir, n))) return path.join(dir, n);
  return undefined;
}

/** npm-cli.js installed with the Node.js whose executable is `node`. */
function npmBeside(node: string, platform: NodeJS.Platform): string | undefined {
  const bin = path.dirname(real(node));
  const candidates =
    platform === 'win32'
      ? [path.join(bin, 'node_modules', 'npm', 'bin', 'npm-cli.js')]
      : [real(path.join(bin, 'npm')), path.join(bin, '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js')];
  return candidates.find((c) => c.endsWith('.js') && exists(c));
}

/** npm-cli.js behind an `npm` found on PATH (a link to it, or a Windows npm.cmd beside it). */
function npmCliOf(npm: string, platform: NodeJS.Platform): string | undefined {
  const candidates =
    platform === 'win32' ? [path.join(path.dirname(npm), 'node_modules', 'npm', 'bin', 'npm-cli.js')] : [real(npm)];
  return candidates.find((c) => c.endsWith('.js') && exists(c));
}

/** Node.js and npm for the setup: beside distill.nodePath, beside the editor's runtime (when it is Node.js), or on PATH. */
export function findNodeAndNpm(s: ToolSearch): NodeAndNpm | { error: string } {
  const isNode = (f: string) => /^node(\.exe)?$/i.test(path.basename(f));
  const nodes = [s.nodePath, isNode(s.execPath) ? s.execPath : '', onPath('node', s) ?? ''].filter(
    (n) => n && exists(n),
  );
  for (const node of nodes) {
    const npmCli = npmBeside(node, s.platform);
    if (npmCli) return { node, npmCli };
  }
  const npm = onPath('npm', s);
  const npmCli = npm ? npmCliOf(npm, s.platform) : undefined;
  if (npmCli) {
    const node = [path.join(path.dirname(real(npm!)), s.platform === 'win32' ? 'node.exe' : 'node'), ...nodes].find(
      exists,
    );
    if (node) return { node, npmCli };
  }
  if (nodes.length === 0)
    return {
      error:
        'no Node.js found: the setup needs Node.js 20+ with npm (install it, or set distill.nodePath to its node executable)',
    };
  return {
    error: `npm was not found beside ${nodes.join(' or ')} or on PATH: install npm (it comes with Node.js), or set distill.nodePath to a node that has npm beside it`,
  };
}

export interface StepOptions {
  /** Every line of output, as it comes. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface StepResult {
  ok: boolean;
  cancelled: boolean;
  code: number | null;
  output: string;
}

/** Runs a command (an argument array, never a shell) in its own process group, so cancelling stops its children too. */
export function runStep(command: string, args: string[], cwd: string, o: StepOptions = {}): Promise<StepResult> {
  return new Promise((resolve) => {
    const group = process.platform !== 'win32';
    const child = spawn(command, args, {
      cwd,
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group,
      windowsHide: true,
    });
    let output = '';
    let cancelled = false;
    // Each stream keeps its own unfinished line: stdout and stderr interleave.
    const partial = { stdout: '', stderr: '' };
    const take = (stream: keyof typeof partial) => (d: Buffer) => {
      const text = d.toString('utf8');
      output += text;
      const lines = (partial[stream] + text).split(/\r?\n/);
      partial[stream] = lines.pop() ?? '';
      for (const l of lines) o.onLine?.(l);
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    const abort = () => {
      cancelled = true;
      try {
        if (group && child.pid) process.kill(-child.pid, 'SIGTERM');
        else child.kill();
      } catch {
        // already gone
      }
    };
    if (o.signal?.aborted) abort();
    o.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (err) => {
      o.signal?.removeEventListener('abort', abort);
      resolve({ ok: false, cancelled, code: null, output: `${output}${err.message}\n` });
    });
    child.on('close', (code) => {
      o.signal?.removeEventListener('abort', abort);
      for (const rest of [partial.stdout, partial.stderr]) if (rest) o.onLine?.(rest);
      resolve({ ok: code === 0 && !cancelled, cancelled, code, output });
    });
  });
}

/** The environment for npm and the build: the chosen node first on PATH (install scripts run `node`). */
export function toolEnv(tools: NodeAndNpm, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const key = Object.keys(base).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  const env = { ...base, [key]: [path.dirname(tools.node), base[key]].filter(Boolean).join(path.delimiter) };
  delete env.ELECTRON_RUN_AS_NODE; // a real node: the variable is the editor's, for its own runtime
  return env;
}

export type OnlineFailure = 'download' | 'npm';

/** Why an online install failed: tfjs-node's download from Google's storage (the offline build avoids it), or npm itself (registry, permissions). */
export function classifyInstallFailure(output: string): OnlineFailure {
  return /storage\.googleapis\.com|libtensorflow|scripts[\\/]install\.js/i.test(output) ? 'download' : 'npm';
}

/** The lines of npm's or the build's output that say what went wrong (an `Error:` line or an error code), without npm's prefix. */
export function errorSummary(output: string, lines = 2): string {
  const all = output
    .split(/\r?\n/)
    .map((l) => l.replace(/^npm (error|ERR!)\s?/, '').trim())
    .filter(Boolean);
  const telling = all.filter(
    (l) =>
      /\b\w*Error\b:|\berror:|\b(ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EACCES|EPERM|ENOSPC|E404|E403)\b|\b40[34] Not Found|\bForbidden\b/.test(
        l,
      ) && !/^at |^\w+: ['"\d-]|A complete log of this run/.test(l),
  );
  return [...new Set(telling.length ? telling : all.filter((l) => !/A complete log of this run/.test(l)))]
    .slice(-lines)
    .join(' / ');
}

/** Makes `dir` an npm project of its own (a package.json that records the native package). */
export function prepareNativeDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  const pkg = path.join(dir, 'package.json');
  if (!fs.existsSync(pkg))
    fs.writeFileSync(
      pkg,
      `${JSON.stringify({ private: true, description: 'Native TensorFlow backend for Distill Studio (DISTILL_NATIVE_DIR)' }, null, 2)}\n`,
    );
}

/** `npm install @tensorflow/tfjs-node@<version>` in `dir`, then its own tfjs copies deleted (the trainer's are used). */
export async function installOnline(
  dir: string,
  tools: NodeAndNpm,
  o: StepOptions = {},
): Promise<StepResult & { failure?: OnlineFailure }> {
  prepareNativeDir(dir);
  const args = [
    tools.npmCli,
    'install',
    '--no-audit',
    '--no-fund',
    '--save-exact',
    '--loglevel=error',
    `@tensorflow/tfjs-node@${TFJS_NODE_VERSION}`,
  ];
  const r = await runStep(tools.node, args, dir, { ...o, env: o.env ?? toolEnv(tools) });
  if (r.ok) pruneNativeDir(dir);
  return r.ok || r.cancelled ? r : { ...r, failure: classifyInstallFailure(r.output) };
}

/** The offline build: scripts/setup-native-tfjs.sh --prefix dir (Linux; needs Python with pip, make and a C++ compiler). */
export async function buildFromWheel(
  script: string,
  dir: string,
  tools: NodeAndNpm,
  o: StepOptions = {},
): Promise<StepResult> {
  prepareNativeDir(dir);
  const r = await runStep('bash', [script, '--prefix', dir], dir, { ...o, env: o.env ?? toolEnv(tools) });
  if (r.ok) pruneNativeDir(dir);
  return r;
}

/** Where the offline build can run: the script is Linux-only. */
export const offlineBuildSupported = (platform: NodeJS.Platform = process.platform) => platform === 'linux';
