/** What the CLI prints: progress while training and the comparison table at the end. */
import type { LatencyResult, MeasuredModel, RunEvent, SummaryRow } from '../protocol/events.ts';
import { examplesText, unlabeledText } from '../protocol/examples.ts';

const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '-' : `${(v * 100).toFixed(2)}%`);
const int = (v: number) => v.toLocaleString('en-US');

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   '))
    .join('\n');
}

const ms = (v: number) => (v < 1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1));
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b < 10 ? 1 : 0)}x`;

function latencyAt(latency: LatencyResult[], model: MeasuredModel, runtime: string, batch: number) {
  // fp32 only: a reduced-precision export's rows are in the precision table.
  return latency.find((l) => l.model === model && l.runtime === runtime && l.batch === batch && !l.precision);
}

/**
 * The teacher / scratch / distilled comparison: accuracy, agreement, size, compute and latency,
 * with the gain from distillation and the student's compression and speed-up stated either way.
 */
export function formatSummary(
  summary: SummaryRow[],
  latency: LatencyResult[] = [],
  onnxBytes: Partial<Record<MeasuredModel, number>> = {},
): string {
  const runtimes = [...new Set(latency.map((l) => l.runtime))];
  const batches = [...new Set(latency.map((l) => l.batch))].sort((a, b) => a - b);
  const b1 = batches[0];
  const chain = summary.some((r) => r.learnedFrom !== undefined && r.learnedFrom !== 'teacher');
  const head = [
    'model',
    ...(chain ? ['learned from'] : []),
    'test accuracy',
    'agreement',
    'parameters',
    'size (fp32)',
    'ONNX file',
    'MACs/example',
    ...runtimes.map((r) => `${r} p50/p99 ms (batch ${b1})`),
  ];
  const rows = [head];
  for (const r of summary) {
    // Latency and ONNX size are measured for the teacher, the final student and a born-again
    // ensemble (all its generations run); generations and the scratch baseline share the
    // student's architecture, assistants have their own.
    const which: MeasuredModel | undefined =
      r.model === 'teacher' || r.model === 'ban-ensemble'
        ? r.model
        : r.model.startsWith('assistant-') ||
            r.model.startsWith('teacher-') ||
            r.model === 'peer' ||
            r.model === 'booster'
          ? undefined
          : 'student';
    const onnx = which && onnxBytes[which];
    rows.push([
      r.model,
      ...(chain ? [r.learnedFrom ?? '-'] : []),
      pct(r.accuracy),
      r.model === 'teacher' ? '-' : pct(r.agreement),
      int(r.params),
      formatBytes(r.bytes),
      onnx ? formatBytes(onnx) : '-',
      r.macs !== undefined ? int(r.macs) : '-',
      ...runtimes.map((rt) => {
        const l = which && latencyAt(latency, which, rt, b1);
        return l ? `${ms(l.p50Ms)} / ${ms(l.p99Ms)}` : '-';
      }),
    ]);
  }
  const lines = [table(rows)];
  const scratch = summary.find((r) => r.model === 'scratch');
  const distilled = summary.find((r) => r.model === 'distilled');
  const teacher = summary.find((r) => r.model === 'teacher');
  if (scratch && distilled) {
    const gain = (distilled.accuracy - scratch.accuracy) * 100;
    lines.push(
      '',
      `distillation vs scratch: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} points of test accuracy (${gain > 0 ? 'a gain' : gain < 0 ? 'a loss' : 'no change'}; one seed, and seed-to-seed noise is about a point)`,
    );
  }
  const student = distilled ?? scratch;
  if (teacher && student) {
    const parts = [`${ratio(teacher.params, student.params)} fewer parameters`];
    if (teacher.macs && student.macs) parts.push(`${ratio(teacher.macs, student.macs)} fewer multiply-adds`);
    for (const rt of runtimes)
      for (const b of batches) {
        const t = latencyAt(latency, 'teacher', rt, b);
        const s = latencyAt(latency, 'student', rt, b);
        if (t && s) parts.push(`${ratio(t.p50Ms, s.p50Ms)} faster in ${rt} at batch ${b}`);
      }
    lines.push(
      `student vs teacher: ${parts.join(', ')}; ${((teacher.accuracy - student.accuracy) * 100).toFixed(2)} points below it`,
    );
  }
  if (latency.length > 0) {
    const lrows = [
      ['latency', 'precision', 'runtime', 'threads', 'batch', 'p50 ms', 'p90 ms', 'p99 ms', 'samples/s', 'runs'],
    ];
    for (const l of latency)
      lrows.push([
        l.model,
        l.precision ?? 'fp32',
        l.runtime,
        l.threads,
        String(l.batch),
        ms(l.p50Ms),
        ms(l.p90Ms),
        ms(l.p99Ms),
        int(Math.round(l.samplesPerSecond)),
        String(l.runs),
      ]);
    lines.push('', table(lrows));
  }
  return lines.join('\n');
}

/** Prints progress from events: a live line on a terminal, one line per epoch otherwise. */
export class ProgressPrinter {
  private live = false;
  private stepsPerEpoch = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = !!out.isTTY,
  ) {}

  private line(text: string): void {
    if (this.live) this.out.write('\r\x1b[K');
    this.live = false;
    this.out.write(`${text}\n`);
  }

  handle(e: RunEvent): void {
    switch (e.type) {
      case 'run_started':
        this.line(`run ${e.runId}${e.resumed ? ' (resumed)' : ''}`);
        this.line(`backend: ${e.backend.name} on ${e.backend.device} (${e.backend.reason})`);
        this.line(
          `data: ${e.data.train} train, ${e.data.validation} validation, ${e.data.test} test, shape [${e.data.inputShape.join(', ')}], ${e.data.classes} classes`,
        );
        if (e.data.unlabeled) this.line(`transfer set: ${unlabeledText(e.data.unlabeled)}`);
        break;
      case 'phase_started':
        this.stepsPerEpoch = e.stepsPerEpoch;
        this.line(
          `${e.phase}: ${int(e.model.params)} parameters, ${e.epochs} epochs of ${e.stepsPerEpoch} steps${e.fromEpoch > 1 ? `, from epoch ${e.fromEpoch}` : ''}`,
        );
        break;
      case 'step':
        if (this.tty) {
          const inEpoch = ((e.step - 1) % this.stepsPerEpoch) + 1;
          this.out.write(
            `\r\x1b[K  ${e.phase} epoch ${e.epoch} step ${inEpoch}/${this.stepsPerEpoch}  loss ${e.loss.total.toFixed(4)}  ${Math.round(e.samplesPerSecond)} samples/s`,
          );
          this.live = true;
        }
        break;
      case 'epoch': {
        const v = e.validation;
        const val = v
          ? `  val acc ${pct(v.accuracy)}${v.agreement !== undefined ? `  agreement ${pct(v.agreement)}` : ''}`
          : '';
        // The examples are named where a transfer set adds to them.
        const examples = e.examples && e.examples.unlabeled > 0 ? `  ${examplesText(e.examples)}` : '';
        // An annealed temperature, as the epoch's last step used it.
        const temperatures = Object.entries(e.temperatures ?? {})
          .map(([term, t]) => `  T ${term} ${t.toFixed(2)}`)
          .join('');
        this.line(
          `  ${e.phase} epoch ${e.epoch}/${e.epochs}  loss ${e.train.loss.total.toFixed(4)}  train acc ${pct(e.train.accuracy)}${val}  ${temperatures}  ${e.seconds.toFixed(1)}s  ${Math.round(e.samplesPerSecond)} samples/s${examples}`,
        );
        break;
      }
      case 'teacher_outputs': {
        const where = e.cache
          ? e.cache.hit
            ? `, read from the cache ${e.cache.dir}`
            : `, cached in ${e.cache.dir}${e.cache.bytes !== undefined ? ` (${formatBytes(e.cache.bytes)})` : ''}`
          : '';
        const provider = e.provider
          ? ` on onnxruntime ${e.provider}${e.providerDetail ? ` (${e.providerDetail})` : ''}`
          : '';
        this.line(`teacher outputs: ${int(e.examples)} examples in ${e.seconds.toFixed(1)}s${provider}${where}`);
        break;
      }
      case 'evaluation':
        this.line(
          `  ${e.phase} test accuracy ${pct(e.metrics.accuracy)}${e.metrics.agreement !== undefined ? `, agreement ${pct(e.metrics.agreement)}` : ''}`,
        );
        break;
      case 'phase_finished':
        if (e.stoppedEarly)
          this.line(`  ${e.phase} stopped early after ${e.epochs} epochs (best epoch ${e.bestEpoch})`);
        if (e.step)
          this.line(
            `  ${e.phase} trained ${e.step.kind === 'dense' ? 'with the written-out dense step' : `with tfjs's tape (${e.step.reason})`} in ${e.seconds.toFixed(1)}s`,
          );
        break;
      case 'artifact':
        if (e.kind.endsWith('-onnx'))
          this.line(
            `exported ${e.path} (${formatBytes(e.bytes)}; onnxruntime matches tfjs within ${e.maxAbsDiff?.toExponential(1)})`,
          );
        else if (e.precision && e.testAccuracy !== undefined && e.fp32TestAccuracy !== undefined)
          this.line(
            `exported ${e.path} (${formatBytes(e.bytes)}; test accuracy ${e.precision} ${pct(e.testAccuracy)}, fp32 ${pct(e.fp32TestAccuracy)})`,
          );
        break;
      case 'warning':
        this.line(`warning: ${e.message}`);
        break;
      case 'run_stopped':
        this.line(`stopped${e.lastCheckpoint ? `; last checkpoint ${e.lastCheckpoint}` : ''}`);
        break;
      default:
        break;
    }
  }
}
