/**
 * Which backend a run started from the editor will use, and why, from the trainer's doctor report
 * (`distill doctor --json`): the editor shows it before the run starts. Free of `vscode`.
 */
import {
  BACKEND_NAMES,
  DOCTOR_VERSION,
  type AdapterInfo,
  type BackendName,
  type BackendPreference,
  type BackendReport,
  type DoctorReport,
} from '../protocol/backends.ts';
import type { ArchitectureSpec, DistillConfig } from '../core/config/schema.ts';

/** The values of the `distill.backend` setting, in package.json's order: '' (the config's), auto, then every backend. */
export const BACKEND_SETTING_VALUES = ['', 'auto', ...BACKEND_NAMES] as const;
export type BackendSetting = '' | BackendPreference;

/** A value the setting may hold; anything else (a hand-edited settings.json) counts as unset. */
export function backendSetting(value: unknown): BackendSetting {
  return (BACKEND_SETTING_VALUES as readonly unknown[]).includes(value) ? (value as BackendSetting) : '';
}

/** The last line of `distill doctor --json`'s stdout as a report; throws with what was wrong. */
export function parseDoctorReport(stdout: string): DoctorReport {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new Error(`the trainer's doctor printed no JSON report${line ? `: ${line.slice(0, 200)}` : ''}`);
  }
  const r = value as Partial<DoctorReport>;
  if (typeof r !== 'object' || r === null || r.v !== DOCTOR_VERSION)
    throw new Error(
      `the trainer's doctor report has version ${String(r?.v)}; this editor reads version ${DOCTOR_VERSION}`,
    );
  if (!Array.isArray(r.backends) || !r.auto?.dense || !r.auto?.conv)
    throw new Error("the trainer's doctor report lacks its backends or its auto choice");
  return r as DoctorReport;
}

const CONV_LAYERS = new Set(['conv2d', 'maxpool', 'avgpool']);

function archTrainsConvs(arch: ArchitectureSpec): boolean {
  if (arch.type === 'cnn') return true;
  if (arch.type === 'layers') return arch.layers.some((l) => CONV_LAYERS.has(l.type));
  return false;
}

/** Whether a run of this config trains conv or pooling layers (the models the pipeline trains: student, a trained teacher, assistants, a mutual peer). */
export function trainsConvolutions(config: DistillConfig): boolean {
  const archs: ArchitectureSpec[] = [config.student.architecture];
  if (config.teacher.source === 'train') archs.push(config.teacher.architecture);
  if (config.strategy.type === 'assistants') archs.push(...config.strategy.assistants.map((a) => a.architecture));
  if (config.strategy.type === 'mutual' && config.strategy.peer) archs.push(config.strategy.peer);
  if (config.strategy.type === 'rocket') archs.push(config.strategy.booster);
  return archs.some(archTrainsConvs);
}

export interface BackendPlan {
  /** The backend the run will use (or, when `ok` is false, the forced one it will try and fail on). */
  name: BackendName;
  /** Who chose: the distill.backend setting, the config's "backend", or auto (neither forces one). */
  source: 'setting' | 'config' | 'auto';
  ok: boolean;
  /** Where it computes (the report's device line). */
  device?: string;
  adapter?: AdapterInfo;
  /** Why this one: auto's reason, or who forced it. */
  reason: string;
  /** When it will fail, why; for a software adapter, the warning. */
  problem?: string;
  fix?: string;
  /** Whether the run trains convolutions; undefined when no config is known (dense assumed). */
  convs?: boolean;
}

/** The backend a run will use given the report, the setting ('' = none), the config's backend and whether it trains convolutions. */
export function planBackend(
  report: DoctorReport,
  setting: BackendSetting,
  configBackend: BackendPreference | undefined,
  convs: boolean | undefined,
): BackendPlan {
  const source = setting ? 'setting' : configBackend && configBackend !== 'auto' ? 'config' : 'auto';
  const preference: BackendPreference = setting || configBackend || 'auto';
  const who = source === 'setting' ? 'the distill.backend setting' : 'the config\'s "backend"';
  const row = (name: BackendName) => report.backends.find((b) => b.name === name);
  if (preference === 'auto') {
    const choice = convs ? report.auto.conv : report.auto.dense;
    const b = row(choice.name);
    const other =
      convs === undefined && report.auto.conv.name !== report.auto.dense.name
        ? `; a run that trains convolutions gets ${report.auto.conv.name}`
        : '';
    return {
      name: choice.name,
      source,
      ok: true,
      device: b?.device,
      adapter: b?.adapter,
      reason: `auto${source === 'setting' ? ` (${who})` : ''}: ${choice.reason}${other}`,
      convs,
    };
  }
  const b = row(preference);
  const plan: BackendPlan = {
    name: preference,
    source,
    ok: true,
    device: b?.device,
    adapter: b?.adapter,
    reason: `forced by ${who}`,
    convs,
  };
  if (!b) return { ...plan, ok: false, problem: `this trainer does not know the backend "${preference}"` };
  if (!b.loads) return { ...plan, ok: false, problem: `${preference} does not load here: ${b.detail}`, fix: b.fix };
  if (convs && !b.canTrainConvs)
    return {
      ...plan,
      ok: false,
      problem: `${preference} cannot train the convolutions of this config (${b.detail})`,
      fix: b.fix,
    };
  if (b.adapter?.software)
    return {
      ...plan,
      problem: `software adapter (${adapterName(b.adapter)}): a CPU rasterizer, far slower than a GPU`,
      fix: b.fix,
    };
  return plan;
}

export function adapterName(a: AdapterInfo): string {
  return a.description || [a.vendor, a.device || a.architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

/** A short device for a status bar: the adapter's name for webgpu, else the device line's first word ("CPU", "GPU"). */
export function shortDevice(plan: Pick<BackendPlan, 'device' | 'adapter'>): string | undefined {
  if (plan.adapter) return adapterName(plan.adapter);
  return plan.device?.match(/^(GPU|CPU)\b/)?.[1] ?? plan.device;
}

/** One line for the status bar and the Runs view: "webgpu (NVIDIA H200)". */
export function planLabel(plan: BackendPlan): string {
  const device = shortDevice(plan);
  return `${plan.name}${device ? ` (${device})` : ''}`;
}

export type RowAction = { kind: 'setup' } | { kind: 'fix'; text: string } | undefined;

export interface BackendRow {
  name: BackendName;
  installed: boolean;
  loads: boolean;
  canTrainConvs: boolean;
  /** Usable: installed and loads. */
  ok: boolean;
  /** "installed · loads · trains convolutions", with "not" where it does not. */
  facts: string;
  device?: string;
  detail: string;
  fix?: string;
  action: RowAction;
  /** auto picks it: for dense models, conv models or both. */
  autoFor: Array<'dense' | 'conv'>;
}

/** Whether a fix is the editor's own native setup (the trainer names the command in its fix). */
export const isSetupFix = (fix: string | undefined) => fix !== undefined && /Set Up Native Backend/i.test(fix);

/** The report's backends in the trainer's order, as the Check Backends list shows them. */
export function backendRows(report: DoctorReport): BackendRow[] {
  const order = (b: BackendReport) => BACKEND_NAMES.indexOf(b.name);
  return [...report.backends]
    .sort((a, b) => order(a) - order(b))
    .map((b) => ({
      name: b.name,
      installed: b.installed,
      loads: b.loads,
      canTrainConvs: b.canTrainConvs,
      ok: b.installed && b.loads,
      facts: [
        b.installed ? 'installed' : 'not installed',
        b.loads ? 'loads' : 'does not load',
        b.canTrainConvs ? 'trains convolutions' : 'cannot train convolutions',
      ].join(' · '),
      device: b.adapter ? `${adapterName(b.adapter)}${b.adapter.software ? ' (software adapter)' : ''}` : b.device,
      detail: b.detail,
      fix: b.fix,
      action: isSetupFix(b.fix) ? { kind: 'setup' } : b.fix ? { kind: 'fix', text: b.fix } : undefined,
      autoFor: (['dense', 'conv'] as const).filter((k) => report.auto[k].name === b.name),
    }));
}

const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** The whole report as Markdown: the Check Backends list, untruncated. */
export function backendsMarkdown(report: DoctorReport): string {
  const yes = (b: boolean) => (b ? 'yes' : 'no');
  const lines = [
    '# Distill backends',
    '',
    `Node ${report.node} on ${report.platform}, as the trainer found them (\`distill doctor\`).`,
    '',
    `**auto** picks **${report.auto.dense.name}** for dense models (${cell(report.auto.dense.reason)}) and **${report.auto.conv.name}** for models with convolutions (${cell(report.auto.conv.reason)}).`,
    '',
    '| backend | installed | loads | device | trains convolutions | what was found | fix |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...backendRows(report).map(
      (r) =>
        `| \`${r.name}\` | ${yes(r.installed)} | ${yes(r.loads)} | ${cell(r.device) || '–'} | ${yes(r.canTrainConvs)} | ${cell(r.detail)} | ${cell(r.fix) || '–'} |`,
    ),
  ];
  if (report.onnxProviders?.length) {
    lines.push(
      '',
      '## ONNX teachers',
      '',
      'onnxruntime execution providers, best first.',
      '',
      '| provider | available | detail |',
      '| --- | --- | --- |',
    );
    for (const p of report.onnxProviders) lines.push(`| \`${p.name}\` | ${yes(p.available)} | ${cell(p.detail)} |`);
  }
  return `${lines.join('\n')}\n`;
}
