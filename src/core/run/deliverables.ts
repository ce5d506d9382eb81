/** What a finished run hands over: ONNX exports (checked) and the latency benchmark. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DistillConfig } from '../config/schema.ts';
import type { ArtifactKind, LatencyResult, RunEventInput } from '../../protocol/events.ts';
import { toOnnx, ExportError } from '../export/onnx.ts';
import { onnxMaxAbsDiff, exportTolerance } from '../export/verify.ts';
import { benchOnnx, benchTfjs, machineInfo, type BenchOptions, type MachineInfo } from '../bench/latency.ts';
import { loadModel } from '../models/io.ts';
import { writeFileAtomic, writeJsonAtomic } from '../fsutil.ts';
import { demoTeacherPath } from '../paths.ts';
import { onnxInputShape, openOnnxTeacher } from '../models/onnxTeacher.ts';

export type RunModel = 'student' | 'teacher' | 'scratch';

/** Where a run's model lives as tfjs: its artifacts, or (for a teacher not trained here) the config's file. */
export function runModelPath(runDir: string, config: DistillConfig, which: RunModel): string {
  const artifact = path.join(runDir, 'artifacts', which, 'model.json');
  if (fs.existsSync(artifact) || which !== 'teacher') return artifact;
  if (config.teacher.source === 'demo') return demoTeacherPath();
  if (config.teacher.source === 'tfjs') return config.teacher.path;
  return artifact;
}

export function readRunConfig(runDir: string): DistillConfig {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as DistillConfig;
}

/** A failed check of an export: the exported model does not compute what the tfjs one does. */
export class ExportCheckError extends Error {
  override name = 'ExportCheckError';
}

/** Converts a tfjs model to ONNX, checks it in onnxruntime against tfjs, and writes it atomically. */
export async function exportOnnx(
  model: tf.LayersModel,
  file: string,
  name: string,
): Promise<{ bytes: number; maxAbsDiff: number }> {
  const { onnxBytes, maxAbsDiff } = await checkedOnnx(model, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomic(file, onnxBytes);
  return { bytes: onnxBytes.length, maxAbsDiff };
}

/** The fp32 ONNX model of a tfjs model, checked in onnxruntime against tfjs (ExportCheckError if off). */
export async function checkedOnnx(
  model: tf.LayersModel,
  name: string,
): Promise<{ onnxBytes: Uint8Array; maxAbsDiff: number }> {
  const onnxBytes = await toOnnx(model, {
    name,
    docString: `${name} exported by Distill Studio; input: the tfjs model's input layout (NHWC for images); output: logits`,
  });
  const { maxAbsDiff, maxAbsOutput } = await onnxMaxAbsDiff(model, onnxBytes);
  const tolerance = exportTolerance(maxAbsOutput);
  if (!(maxAbsDiff <= tolerance))
    throw new ExportCheckError(
      `the ONNX export of ${name} differs from tfjs by ${maxAbsDiff} (max abs, outputs up to ${maxAbsOutput.toFixed(2)}), more than ${tolerance.toExponential(2)}; it was not written`,
    );
  return { onnxBytes, maxAbsDiff };
}

/** Exports the run's models at the end of a run; an unsupported layer is a warning, not a failure. */
export async function exportRunOnnx(
  runDir: string,
  models: Array<[RunModel, tf.LayersModel]>,
  emit: (e: RunEventInput) => void,
): Promise<void> {
  for (const [which, model] of models) {
    const file = path.join(runDir, 'artifacts', `${which}.onnx`);
    try {
      const { bytes, maxAbsDiff } = await exportOnnx(model, file, which);
      emit({ type: 'artifact', kind: `${which}-onnx` as ArtifactKind, path: file, bytes, maxAbsDiff });
    } catch (err) {
      if (!(err instanceof ExportError || err instanceof ExportCheckError)) throw err;
      emit({ type: 'warning', message: `no ONNX export of the ${which}: ${err.message}` });
    }
  }
}

export interface BenchReport {
  machine: MachineInfo;
  options: BenchOptions;
  results: LatencyResult[];
  onnxBytes: Partial<Record<'teacher' | 'student', number>>;
}

/** Times teacher and student in onnxruntime (CPU) and the current tfjs backend; writes bench.json. */
export async function benchRun(
  runDir: string,
  config: DistillConfig,
  options: BenchOptions,
  emit?: (e: RunEventInput) => void,
): Promise<BenchReport> {
  const results: LatencyResult[] = [];
  const onnxBytes: BenchReport['onnxBytes'] = {};
  const { model: student } = await loadModel(runModelPath(runDir, config, 'student'));
  const dataShape = (student.inputs[0].shape as number[]).slice(1);
  const numClasses = student.outputs[0].shape[1] as number;
  student.dispose();
  for (const which of ['teacher', 'student'] as const) {
    if (which === 'teacher' && config.teacher.source === 'onnx') {
      // An ONNX teacher is timed as it is, in onnxruntime only: there is no tfjs version of it.
      // Opened for its layout and input name only, so on cpu: no GPU session for nothing.
      const teacher = await openOnnxTeacher(config.teacher.path, dataShape, numClasses, {
        layout: config.teacher.layout,
        logits: config.teacher.logits,
        providers: ['cpu'],
      });
      await teacher.dispose();
      const bytes = fs.readFileSync(config.teacher.path);
      onnxBytes.teacher = bytes.length;
      for (const r of await benchOnnx(
        'teacher',
        bytes,
        onnxInputShape(teacher.layout, dataShape),
        options,
        ['cpu'],
        teacher.inputName,
      )) {
        results.push(r);
        emit?.({ type: 'benchmark', result: r });
      }
      continue;
    }
    const { model } = await loadModel(runModelPath(runDir, config, which));
    const inputShape = (model.inputs[0].shape as number[]).slice(1);
    try {
      const bytes = await toOnnx(model, { name: which });
      onnxBytes[which] = bytes.length;
      for (const r of await benchOnnx(which, bytes, inputShape, options)) {
        results.push(r);
        emit?.({ type: 'benchmark', result: r });
      }
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
      emit?.({ type: 'warning', message: `the ${which} was not timed in onnxruntime: ${err.message}` });
    }
    for (const r of await benchTfjs(which, model, inputShape, options)) {
      results.push(r);
      emit?.({ type: 'benchmark', result: r });
    }
    model.dispose();
  }
  const report: BenchReport = { machine: machineInfo(), options, results, onnxBytes };
  writeJsonAtomic(path.join(runDir, 'bench.json'), report);
  return report;
}

export function benchOptions(config: DistillConfig, overrides: Partial<BenchOptions> = {}): BenchOptions {
  const b = config.bench;
  return {
    batchSizes: b.batchSizes,
    threads: b.threads,
    warmup: b.warmup,
    minRuns: b.minRuns,
    minSeconds: b.minSeconds,
    ...overrides,
  };
}
