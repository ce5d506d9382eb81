/**
 * `distill` — the headless engine's command line, and the process the editor spawns.
 *   distill train <config.distill.json> | distill train --resume <run folder>
 *   distill validate <config.distill.json>
 *   distill init [path] [--force]
 * Exit codes: 0 done, 1 the run failed, 2 bad input (config, data, model files), 130/143 stopped by a signal.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/config/problems.ts';
import { DataError } from '../core/data/dataError.ts';
import { BackendError } from '../core/backend.ts';
import { ModelFileError } from '../core/models/io.ts';
import { DivergenceError } from '../core/train/loop.ts';
import { checkConfigFully, runDistillation } from '../core/run/pipeline.ts';
import { writeFileAtomic } from '../core/fsutil.ts';
import { ProgressPrinter, formatSummary } from './report.ts';
import { starterConfig } from './starter.ts';

const USAGE = `usage:
  distill train <config.distill.json>     train the teacher (if configured), the baseline and the distilled student
  distill train --resume <run folder>     continue a stopped or crashed run from its last checkpoint
  distill validate <config.distill.json>  check a config, its data and its teacher without training
  distill init [path] [--force]           write a starter config (default: kd.distill.json)`;

export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

class UsageError extends Error {}

function isUserError(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof DataError || err instanceof BackendError || err instanceof ModelFileError || err instanceof UsageError;
}

async function train(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { resume: { type: 'string' } } });
  if (values.resume ? positionals.length > 0 : positionals.length !== 1) throw new UsageError('train takes one config file, or --resume <run folder>');
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    if (signal) process.exit(s === 'SIGINT' ? 130 : 143); // a second signal: stop now
    signal = s;
    process.stderr.write(`\n${s}: stopping after the current step and writing a checkpoint (send again to stop at once)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const printer = new ProgressPrinter(process.stdout);
  const result = await runDistillation({
    configFile: positionals[0],
    resumeDir: values.resume ? path.resolve(values.resume) : undefined,
    onEvent: (e) => printer.handle(e),
    shouldStop: () => signal !== undefined,
  });
  if (result.status === 'stopped') {
    console.log(`resume with: distill train --resume ${result.runDir}`);
    return signal === 'SIGINT' ? 130 : 143;
  }
  console.log(`\n${formatSummary(result.summary)}\n\nrun folder: ${result.runDir}`);
  return EXIT.ok;
}

async function validate(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, options: {} });
  if (positionals.length !== 1) throw new UsageError('validate takes one config file');
  const { data, backend } = await checkConfigFully(positionals[0]);
  console.log(`${positionals[0]}: valid (${data.train.n} train, ${data.validation.n} validation, ${data.test.n} test examples of shape [${data.inputShape.join(', ')}], ${data.numClasses} classes; backend ${backend.name})`);
  return EXIT.ok;
}

function init(args: string[]): number {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { force: { type: 'boolean', default: false } } });
  if (positionals.length > 1) throw new UsageError('init takes at most one path');
  let target = positionals[0] ?? 'kd.distill.json';
  if (fs.existsSync(target) && fs.statSync(target).isDirectory()) target = path.join(target, 'kd.distill.json');
  if (!target.endsWith('.distill.json')) throw new UsageError(`${target}: config files are named *.distill.json (so editors apply the schema)`);
  if (fs.existsSync(target) && !values.force) throw new UsageError(`${target} exists; pass --force to overwrite it`);
  if (!fs.existsSync(path.dirname(path.resolve(target)))) throw new UsageError(`${path.dirname(path.resolve(target))}: the folder does not exist`);
  writeFileAtomic(target, `${JSON.stringify(starterConfig(target), null, 2)}\n`);
  console.log(`wrote ${target}; run it with: distill train ${target}`);
  return EXIT.ok;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'train':
        return await train(rest);
      case 'validate':
        return await validate(rest);
      case 'init':
        return init(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? EXIT.badInput : EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`distill: ${err.message}\n${USAGE}`);
      return EXIT.badInput;
    }
    if (isUserError(err)) {
      console.error(`distill: ${(err as Error).message}`);
      return EXIT.badInput;
    }
    if (err instanceof DivergenceError) {
      console.error(`distill: training stopped: ${err.message}`);
      return EXIT.failed;
    }
    if ((err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || (err as { code?: string }).code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      console.error(`distill: ${(err as Error).message}\n${USAGE}`);
      return EXIT.badInput;
    }
    console.error(`distill: internal error (please report it): ${(err as Error).stack ?? String(err)}`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
