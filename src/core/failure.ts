/**
 * The one classification of why a command or a run failed, read by the run (run_failed `kind`)
 * and the CLI (exit code and message), so that the two never disagree:
 *  - `input`: bad input the user can fix (config, data, backend, a model file, a damaged or
 *    incompatible checkpoint, an ONNX teacher whose outputs change shape mid-run, a model that
 *    cannot be exported): one message, no stack, exit 2, recorded `user`;
 *  - `divergence`: the loss went NaN or infinite under the configured settings: exit 1 (the run
 *    ran and failed), recorded `user` (the settings are the user's to change);
 *  - `internal`: anything else (a bug, the environment): exit 1 with the stack, recorded `internal`.
 */
import { BackendError } from './backend.ts';
import { ConfigError } from './config/problems.ts';
import { DataError } from './data/dataError.ts';
import { ExportError } from './export/onnx.ts';
import { ModelFileError } from './models/io.ts';
import { DivergenceError } from './train/loop.ts';

export type Failure = 'input' | 'divergence' | 'internal';

export function classifyFailure(err: unknown): Failure {
  if (
    err instanceof ConfigError ||
    err instanceof DataError ||
    err instanceof BackendError ||
    err instanceof ModelFileError || // CheckpointError too
    err instanceof ExportError
  )
    return 'input';
  if (err instanceof DivergenceError) return 'divergence';
  return 'internal';
}

/** run_failed's `kind` for an error. */
export const failureKind = (err: unknown): 'user' | 'internal' =>
  classifyFailure(err) === 'internal' ? 'internal' : 'user';
