/**
 * A sweep's plan: its settings (every combination of a grid, random draws, or the config alone)
 * crossed with its seeds, and each task's whole config, checked by the config's own validation
 * before anything is written. Deterministic: the same files give the same settings, tasks and
 * configs in the same order, so task i is always the same config.
 *
 * A problem of one setting is reported where the sweep names it: the swept key (a key the config
 * does not have), or the value in the grid (a value of the wrong type), with the config's message.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  describeFsError,
  describeValue,
  loadConfigFile,
  validateConfigText,
  validateJsonText,
} from '../config/load.ts';
import {
  ConfigError,
  formatPath,
  problemAt,
  type ConfigProblem,
  type ConfigSource,
  type JsonPath,
} from '../config/problems.ts';
import type { DistillConfig } from '../config/schema.ts';
import { mixSeed, SeededRandom } from '../random.ts';
import { SWEEP_VERSION, type SweepPlan, type SweepSetting, type SweepTask } from '../../protocol/sweep.ts';
import { MAX_SWEEP_TASKS, sweepFileSchema, type SweepDistribution, type SweepSpec } from './schema.ts';

/** A plan before its folder exists (the folder gives it its id and time). */
export interface PlannedSweep {
  plan: Omit<SweepPlan, 'sweepId' | 'createdAt'>;
  /** Task i's whole config (paths absolute, `train.seed` set), as `configs/<i>.json` holds it. */
  configs: DistillConfig[];
  /** The base config's `output.dir`: where the sweep folder goes unless told otherwise. */
  outputDir: string;
}

export const taskDir = (index: number) => `tasks/${index}`;
export const taskConfigFile = (index: number) => `configs/${index}.json`;

/** Keys a setting may not set: the sweep's own, and the seed (that is `seeds`). */
const RESERVED: Record<string, string> = {
  $schema: 'is not a training setting',
  seeds: 'cannot be swept; list the seeds in "seeds"',
  sweep: 'cannot be swept',
  'train.seed': 'is set by "seeds"; list the seeds there instead of sweeping train.seed',
};

/** Where the spec is written: its source, and the path of the spec in it (`["sweep"]` in a config, `[]` in a sweep file). */
interface SpecOrigin {
  source: ConfigSource;
  at: JsonPath;
}

export interface PlanOptions {
  /** Seeds from the command line (`--seeds`): they replace the file's. */
  seeds?: number[];
}

/** Plans the sweep of a `*.distill.json` (its `sweep` and `seeds`) or of a `*.sweep.json`; throws ConfigError. */
export function planSweep(file: string, options: PlanOptions = {}): PlannedSweep {
  const abs = path.resolve(file);
  if (abs.endsWith('.sweep.json')) return planSweepFile(abs, options);
  const { config, source } = loadConfigFile(abs);
  const seeds = options.seeds ?? config.seeds ?? [config.train.seed];
  return expand({
    configFile: abs,
    config,
    configSource: source,
    name: config.name,
    spec: config.sweep,
    origin: { source, at: ['sweep'] },
    seeds,
  });
}

function planSweepFile(file: string, options: PlanOptions): PlannedSweep {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { file, path: [], line: 0, column: 0, offset: 0, length: 0, message: describeFsError(err, 'sweep file') },
    ]);
  }
  const { value, source, problems } = validateJsonText(text, file, sweepFileSchema);
  if (!value) throw new ConfigError(problems);
  const configFile = path.resolve(path.dirname(file), value.config);
  if (!fs.existsSync(configFile) || fs.statSync(configFile).isDirectory())
    throw new ConfigError([
      problemAt(source, ['config'], `${configFile}: the config file does not exist; expected a *.distill.json`),
    ]);
  const loaded = loadConfigFile(configFile);
  if (loaded.config.sweep)
    throw new ConfigError([
      problemAt(
        source,
        ['config'],
        `${configFile} has its own "sweep"; a *.sweep.json overrides a config without one (remove one of the two)`,
      ),
    ]);
  return expand({
    configFile,
    sweepFile: file,
    config: loaded.config,
    configSource: loaded.source,
    name: value.name ?? loaded.config.name,
    spec: value.grid || value.random ? (value as SweepSpec) : undefined,
    fixed: value.set ?? {},
    origin: { source, at: [] },
    seeds: options.seeds ?? value.seeds ?? loaded.config.seeds ?? [loaded.config.train.seed],
  });
}

interface ExpandInput {
  configFile: string;
  sweepFile?: string;
  config: DistillConfig;
  configSource: ConfigSource;
  name: string;
  spec: SweepSpec | undefined;
  /** A sweep file's `set`: keys given one value in every task (not part of a setting's label). */
  fixed?: Record<string, unknown>;
  origin: SpecOrigin;
  seeds: number[];
}

/** One setting as drawn: its values, and where in the spec each value is written (for problems). */
interface Draw {
  values: Record<string, unknown>;
  where: Record<string, JsonPath>;
}

function expand(input: ExpandInput): PlannedSweep {
  const { spec, origin, seeds } = input;
  const mode: SweepPlan['mode'] = spec?.grid ? 'grid' : spec?.random ? 'random' : 'seeds';
  const keys = spec?.grid ? Object.keys(spec.grid) : spec?.random ? Object.keys(spec.random.space) : [];
  const modeAt: JsonPath = [...origin.at, ...(mode === 'seeds' ? [] : [mode])];
  const keyAt = (key: string): JsonPath =>
    mode === 'grid' ? [...origin.at, 'grid', key] : [...origin.at, 'random', 'space', key];

  const problems: ConfigProblem[] = [];
  const keyPaths = new Map<string, JsonPath>();
  const fixed = input.fixed ?? {};
  for (const key of [...keys, ...Object.keys(fixed)]) {
    const parsed = parseKey(key);
    const at = key in fixed ? [...origin.at, 'set', key] : keyAt(key);
    if (key in fixed && keys.includes(key))
      problems.push(problemAt(origin.source, at, `"${key}" is swept; it cannot also be set`, true));
    else if (typeof parsed === 'string') problems.push(problemAt(origin.source, at, parsed, true));
    else keyPaths.set(key, parsed);
  }
  if (spec?.random)
    for (const [key, d] of Object.entries(spec.random.space))
      if (d.type !== 'choice' && d.low > d.high)
        problems.push(
          problemAt(origin.source, keyAt(key), `expected low <= high, found low ${d.low} and high ${d.high}`),
        );
  if (problems.length) throw new ConfigError(problems);

  const settingCount = spec?.grid
    ? Object.values(spec.grid).reduce((n, values) => n * values.length, 1)
    : (spec?.random?.samples ?? 1);
  const taskCount = settingCount * seeds.length;
  if (taskCount > MAX_SWEEP_TASKS) {
    const counts = spec?.grid
      ? Object.values(spec.grid)
          .map((v) => v.length)
          .join(' x ')
      : String(settingCount);
    throw new ConfigError([
      problemAt(
        origin.source,
        mode === 'seeds' ? [...origin.at, 'seeds'] : modeAt,
        `this sweep has ${counts} settings x ${seeds.length} seeds = ${taskCount} tasks; the limit is ${MAX_SWEEP_TASKS} tasks per sweep (Slurm's default MaxArraySize is 1001): sweep fewer values, or split it into several sweeps`,
      ),
    ]);
  }

  const swept = spec?.grid
    ? gridDraws(spec.grid, keyAt)
    : spec?.random
      ? randomDraws(spec.random, keyAt)
      : [{ values: {}, where: {} }];
  // Fixed keys ride along with every draw; the setting's values and label keep only the swept ones.
  const fixedWhere = Object.fromEntries(Object.keys(fixed).map((k) => [k, [...origin.at, 'set', k]]));
  const draws = swept.map((d) => ({
    values: d.values,
    applied: { ...fixed, ...d.values },
    where: { ...fixedWhere, ...d.where },
  }));
  const base = structuredClone(input.config) as Record<string, unknown>;
  delete base.seeds;
  delete base.sweep;
  delete base.$schema;

  const settings: SweepSetting[] = [];
  const settingConfigs: DistillConfig[] = [];
  const seen = new Set<string>();
  for (const [id, draw] of draws.entries()) {
    const label = keys.length ? keys.map((k) => `${k}=${formatValue(draw.values[k])}`).join(', ') : 'base config';
    const { config, problems: found } = settingConfig(base, draw, keyPaths, input, origin, label, modeAt, (k) =>
      k in fixed ? [...origin.at, 'set', k] : keyAt(k),
    );
    for (const p of found) {
      const text = `${p.line}:${p.column}:${p.message}`;
      if (!seen.has(text)) problems.push(p);
      seen.add(text);
    }
    settings.push({ id, values: draw.values, label });
    if (config) settingConfigs.push(config);
  }
  if (problems.length) throw new ConfigError(problems.sort((a, b) => a.offset - b.offset));

  const tasks: SweepTask[] = [];
  const configs: DistillConfig[] = [];
  // Seed-major: the first tasks cover every setting once (a first look at a partial sweep), and
  // tasks that share a data split (one seed) start together, so its teacher outputs are computed once.
  for (const seed of seeds)
    for (const setting of settings) {
      const index = tasks.length;
      tasks.push({ index, setting: setting.id, seed, dir: taskDir(index), config: taskConfigFile(index) });
      const config = structuredClone(settingConfigs[setting.id]);
      config.train.seed = seed;
      configs.push(config);
    }
  return {
    plan: {
      v: SWEEP_VERSION,
      name: input.name,
      configFile: input.configFile,
      ...(input.sweepFile ? { sweepFile: input.sweepFile } : {}),
      mode,
      keys,
      seeds,
      settings,
      tasks,
      select: { model: 'distilled', metric: 'validation_accuracy' },
    },
    configs,
    outputDir: input.config.output.dir,
  };
}

/** `distill.terms.0.weight` -> ['distill', 'terms', 0, 'weight'], or what is wrong with the key. */
export function parseKey(key: string): JsonPath | string {
  if (RESERVED[key] || RESERVED[key.split('.')[0]]) return `"${key}" ${RESERVED[key] ?? RESERVED[key.split('.')[0]]}`;
  const segments = key.split('.');
  if (segments.some((s) => s === ''))
    return `"${key}" is not a config key path; expected dotted names such as "distill.temperature"`;
  if (/^\d+$/.test(segments[0])) return `"${key}" is not a config key path; it must start with a key name`;
  return segments.map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function gridDraws(grid: Record<string, unknown[]>, keyAt: (key: string) => JsonPath): Draw[] {
  let draws: Draw[] = [{ values: {}, where: {} }];
  // The last key varies fastest: setting ids follow the grid as it reads.
  for (const [key, values] of Object.entries(grid))
    draws = draws.flatMap((d) =>
      values.map((value, j) => ({
        values: { ...d.values, [key]: value },
        where: { ...d.where, [key]: [...keyAt(key), j] },
      })),
    );
  return draws;
}

const round4 = (x: number) => Number(x.toPrecision(4));

function drawValue(d: SweepDistribution, rng: SeededRandom): { value: unknown; choice?: number } {
  const r = rng.next();
  switch (d.type) {
    case 'choice': {
      const choice = Math.min(d.values.length - 1, Math.floor(r * d.values.length));
      return { value: d.values[choice], choice };
    }
    case 'uniform':
      return { value: round4(d.low + r * (d.high - d.low)) };
    case 'logUniform':
      return { value: round4(Math.exp(Math.log(d.low) + r * (Math.log(d.high) - Math.log(d.low)))) };
    case 'int':
      return { value: d.low + Math.min(d.high - d.low, Math.floor(r * (d.high - d.low + 1))) };
  }
}

function randomDraws(random: NonNullable<SweepSpec['random']>, keyAt: (key: string) => JsonPath): Draw[] {
  const rng = new SeededRandom(mixSeed(random.seed, 'sweep-random'));
  const draws: Draw[] = [];
  for (let s = 0; s < random.samples; s++) {
    const draw: Draw = { values: {}, where: {} };
    for (const [key, d] of Object.entries(random.space)) {
      const { value, choice } = drawValue(d, rng);
      draw.values[key] = value;
      draw.where[key] = choice === undefined ? keyAt(key) : [...keyAt(key), 'values', choice];
    }
    draws.push(draw);
  }
  return draws;
}

function formatValue(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Sets `value` at `at` in `root`; returns what is wrong when the path cannot hold a value. */
function setAt(root: Record<string, unknown>, at: JsonPath, value: unknown): string | undefined {
  let node: unknown = root;
  for (let i = 0; i < at.length; i++) {
    const seg = at[i];
    const here = formatPath(at.slice(0, i));
    const last = i === at.length - 1;
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return `${here} is ${describeValue(node)}, not a list that [${seg}] could index`;
      if (seg >= node.length) return `${here} has ${node.length} items; [${seg}] is past its end`;
    } else if (node === null || typeof node !== 'object' || Array.isArray(node))
      return `${here} is ${describeValue(node)}, not an object with a key "${seg}"`;
    const holder = node as Record<string | number, unknown>;
    if (last) holder[seg] = structuredClone(value);
    else {
      holder[seg] ??= {};
      node = holder[seg];
    }
  }
  return undefined;
}

/** True when `prefix` is a prefix of `p`. */
const startsWith = (p: JsonPath, prefix: JsonPath) => prefix.length <= p.length && prefix.every((s, i) => p[i] === s);

/** The setting's config, validated as a config file; its problems located in the sweep. */
function settingConfig(
  base: Record<string, unknown>,
  draw: Draw & { applied: Record<string, unknown> },
  keyPaths: Map<string, JsonPath>,
  input: ExpandInput,
  origin: SpecOrigin,
  label: string,
  modeAt: JsonPath,
  keyAt: (key: string) => JsonPath,
): { config?: DistillConfig; problems: ConfigProblem[] } {
  const merged = structuredClone(base);
  const problems: ConfigProblem[] = [];
  for (const [key, at] of keyPaths) {
    const wrong = setAt(merged, at, draw.applied[key]);
    if (wrong) problems.push(problemAt(origin.source, draw.where[key], `cannot set "${key}": ${wrong}`));
  }
  if (problems.length) return { problems };
  // Validated as if it were the config file, so relative paths in values resolve from its folder.
  const result = validateConfigText(JSON.stringify(merged, null, 2), input.configFile);
  if (result.config) return { config: result.config, problems };
  for (const p of result.problems) {
    // The swept key the problem is about: the deepest key at or above it, else one below it.
    const owners = [...keyPaths].filter(([, at]) => startsWith(p.path, at)).sort((a, b) => b[1].length - a[1].length);
    const owner = owners[0] ?? [...keyPaths].find(([, at]) => startsWith(at, p.path));
    if (!owner) {
      problems.push(
        problemAt(
          origin.source,
          modeAt,
          `the setting ${label} makes an invalid config: ${formatPath(p.path)}: ${p.message}`,
        ),
      );
      continue;
    }
    const [key, at] = owner;
    if (p.message.startsWith('unknown key ')) {
      const parent = p.path.length > 1 ? `${formatPath(p.path.slice(0, -1))} has no ` : '';
      const what = p.message.replace(/^unknown key /, parent ? 'key ' : 'unknown key ');
      problems.push(problemAt(origin.source, keyAt(key), `"${key}" is not a config key: ${parent}${what}`, true));
      continue;
    }
    const where = p.path.length === at.length ? '' : ` (${formatPath(p.path)})`;
    problems.push(
      problemAt(origin.source, draw.where[key], `${key} = ${formatValue(draw.applied[key])}${where}: ${p.message}`),
    );
  }
  return { problems };
}
