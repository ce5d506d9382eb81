/** What a finished run hands over: ONNX exports (checked) and the latency benchmark. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { DistillConfig } from '../config/schema.ts';
import type { ArtifactKind, LatencyResult, MeasuredModel, RunEventInput } from '../../protocol/events.ts';
import { toOnnx, ExportError } from '../export/onnx.ts';
import { onnxMaxAbsDiff, exportTolerance } from '../export/verify.ts';
import {
  benchOnnx,
  benchOnnxEnsemble,
  benchTfjs,
  benchTfjsEnsemble,
  machineInfo,
  type BenchOptions,
  type MachineInfo,
} from '../bench/latency.ts';
import { benchOnnxWeb, loadOrtWeb } from '../bench/webLatency.ts';
import { loadModel } from '../models/io.ts';
import { benchTextTeacher, textStudentFeeds, textStudentInputs } from '../bench/textLatency.ts';
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
  onnxBytes: Partial<Record<MeasuredModel, number>>;
  /** The reduced-precision exports found in artifacts/ and timed beside fp32. */
  precisionFiles: Array<{ model: 'teacher' | 'student'; precision: 'fp16' | 'int8'; file: string; bytes: number }>;
  /** With `web`: why onnxruntime-web was not timed, when it was not. */
  webUnavailable?: string;
}

/** Also time the student in onnxruntime-web's wasm backend (`distill bench`; not at the end of every run: its wasm compiles for seconds). */
export interface BenchExtras {
  web?: boolean;
  /** Test-time ensembles of the run (BAN-E), timed running all their members; in-process only, at the end of a run. */
  ensembles?: BenchEnsemble[];
}

/** A test-time ensemble to time: its row name and its member models (in memory). */
export interface BenchEnsemble {
  model: MeasuredModel;
  members: tf.LayersModel[];
}

const REDUCED_PRECISIONS = ['fp16', 'int8'] as const;

/**
 * Times teacher and student in onnxruntime (CPU) and the current tfjs backend, and each
 * artifacts/<model>.<fp16|int8>.onnx beside its fp32 export; with `web`, the student (all its
 * precisions) in onnxruntime-web's wasm backend too. Writes bench.json.
 */
export async function benchRun(
  runDir: string,
  config: DistillConfig,
  options: BenchOptions,
  emit?: (e: RunEventInput) => void,
  extras: BenchExtras = {},
): Promise<BenchReport> {
  const results: LatencyResult[] = [];
  const onnxBytes: BenchReport['onnxBytes'] = {};
  const precisionFiles: BenchReport['precisionFiles'] = [];
  const record = (rs: LatencyResult[]) => {
    for (const r of rs) {
      results.push(r);
      emit?.({ type: 'benchmark', result: r });
    }
  };
  const web = extras.web ? loadOrtWeb() : undefined;
  const webOrt = web && 'ort' in web ? web.ort : undefined;
  const { model: student } = await loadModel(runModelPath(runDir, config, 'student'));
  const dataShape = (student.inputs[0].shape as number[]).slice(1);
  const numClasses = student.outputs[0].shape[1] as number;
  student.dispose();
  for (const which of ['teacher', 'student'] as const) {
    if (which === 'teacher' && config.teacher.source === 'onnx' && config.data.source === 'text') {
      const text = await benchTextTeacher(config, numClasses, options);
      onnxBytes.teacher = text.bytes;
      record(text.results);
      continue;
    }
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
      record(await benchOnnx(which, bytes, inputShape, options, ['cpu'], 'input', undefined, textStudentFeeds(model)));
      const onWeb = webOrt && which === 'student';
      if (onWeb) record(await benchOnnxWeb(webOrt, which, bytes, inputShape, options));
      for (const precision of REDUCED_PRECISIONS) {
        const file = path.join(runDir, 'artifacts', `${which}.${precision}.onnx`);
        if (!fs.existsSync(file)) continue;
        const variant = new Uint8Array(fs.readFileSync(file));
        precisionFiles.push({ model: which, precision, file, bytes: variant.length });
        record(await benchOnnx(which, variant, inputShape, options, ['cpu'], 'input', precision));
        if (onWeb) record(await benchOnnxWeb(webOrt, which, variant, inputShape, options, precision));
      }
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
      emit?.({ type: 'warning', message: `the ${which} was not timed in onnxruntime: ${err.message}` });
    }
    for (const r of await benchTfjs(which, model, inputShape, options, textStudentInputs(model))) {
      results.push(r);
      emit?.({ type: 'benchmark', result: r });
    }
    model.dispose();
  }
  for (const e of extras.ensembles ?? []) {
    const inputShape = (e.members[0].inputs[0].shape as number[]).slice(1);
    try {
      const bytes = await Promise.all(e.members.map((m, i) => toOnnx(m, { name: `${e.model}-${i + 1}` })));
      onnxBytes[e.model] = bytes.reduce((a, b) => a + b.length, 0);
      record(await benchOnnxEnsemble(e.model, bytes, inputShape, options));
    } catch (err) {
      if (!(err instanceof ExportError)) throw err;
      emit?.({ type: 'warning', message: `the ${e.model} was not timed in onnxruntime: ${err.message}` });
    }
    record(await benchTfjsEnsemble(e.model, e.members, inputShape, options));
  }
  const report: BenchReport = {
    machine: machineInfo(),
    options,
    results,
    onnxBytes,
    precisionFiles,
    ...(web && 'unavailable' in web ? { webUnavailable: web.unavailable } : {}),
  };
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
