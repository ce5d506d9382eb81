/**
 * The editor's side of backends: the backend the next run will use (Runs view, status bar), the
 * Check Backends list and the native setup. The decisions are in backendPlan.ts and
 * nativeSetup.ts (free of `vscode`); this file shows them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendPreference, DoctorReport } from '../protocol/backends.ts';
import { loadConfigFile, parseConfigText } from '../core/config/load.ts';
import type { DistillConfig } from '../core/config/schema.ts';
import type { Ctx } from './context.ts';
import {
  backendRows,
  backendsMarkdown,
  planBackend,
  planLabel,
  trainsConvolutions,
  type BackendPlan,
  type BackendRow,
} from './backendPlan.ts';
import {
  buildFromWheel,
  errorSummary,
  findNodeAndNpm,
  installOnline,
  offlineBuildSupported,
  TFJS_NODE_VERSION,
  type NodeAndNpm,
  type StepOptions,
  type StepResult,
} from './nativeSetup.ts';
import { isConfig } from './diagnostics.ts';
import { nativePackageDir } from '../core/nativeModules.ts';
import type { BackendHeader } from './runsTree.ts';

interface ConfigFacts {
  file: string;
  backend: BackendPreference;
  convs: boolean;
}

/** The backend line of the Runs view and the status bar, kept up to date with the report, the setting and the config in view. */
export class BackendView {
  private lastConfig: string | undefined;

  constructor(
    private readonly ctx: Ctx,
    private readonly show: {
      description(text: string | undefined): void;
      status(text: string, tooltip: vscode.MarkdownString, warning: boolean): void;
      refreshTree(): void;
    },
  ) {}

  /** Remembers the config a run was started from: the next run's default when no config is in view. */
  started(file: string): void {
    this.lastConfig = file;
  }

  /** The config a run would start from: the active editor's, a visible one's, the last one started. */
  private config(): ConfigFacts | undefined {
    const docs = [
      vscode.window.activeTextEditor?.document,
      ...vscode.window.visibleTextEditors.map((e) => e.document),
    ].filter((d): d is vscode.TextDocument => d !== undefined && isConfig(d));
    const candidates = [...docs.map((d) => d.uri.fsPath), ...(this.lastConfig ? [this.lastConfig] : [])];
    for (const file of candidates) {
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.fsPath === file);
      let config: DistillConfig;
      try {
        config = doc ? parseConfigText(doc.getText(), file).config : loadConfigFile(file).config;
      } catch {
        continue; // an invalid config: its problems are in the Problems panel
      }
      return { file, backend: config.backend, convs: trainsConvolutions(config) };
    }
    return undefined;
  }

  plan(): { plan: BackendPlan; config?: ConfigFacts } | undefined {
    const report = this.ctx.backends.report;
    if (!report) return undefined;
    const config = this.config();
    return { plan: planBackend(report, this.ctx.settings().backend, config?.backend, config?.convs), config };
  }

  header(): BackendHeader | undefined {
    const p = this.plan();
    if (!p) return undefined;
    return {
      label: `Next run: ${planLabel(p.plan)}`,
      description: sourceText(p.plan),
      tooltip: planTooltip(p.plan, p.config?.file, this.ctx.backends.report!),
      warning: !p.plan.ok || p.plan.problem !== undefined,
    };
  }

  update(): void {
    const state = this.ctx.backends;
    const p = this.plan();
    if (p) {
      const { plan } = p;
      this.show.description(plan.ok ? `next run: ${planLabel(plan)}` : `next run: ${plan.name} will fail`);
      this.show.status(
        plan.ok ? `Distill: will train on ${planLabel(plan)}` : `Distill: ${plan.name} will fail`,
        planTooltip(plan, p.config?.file, state.report!),
        !plan.ok || plan.problem !== undefined,
      );
    } else if (state.checking) {
      this.show.description('checking backends…');
      this.show.status(
        'Distill: checking backends…',
        new vscode.MarkdownString('Running `distill doctor` to find the backends this machine has.'),
        false,
      );
    } else if (state.error) {
      this.show.description(undefined);
      this.show.status(
        'Distill: backends unknown',
        new vscode.MarkdownString(`The backend check failed: ${state.error}\n\nClick to check again.`),
        true,
      );
    }
    this.show.refreshTree();
  }
}

function sourceText(plan: BackendPlan): string {
  if (plan.source === 'setting')
    return plan.reason.startsWith('auto') ? 'auto (distill.backend setting)' : 'distill.backend setting';
  if (plan.source === 'config') return "config's backend";
  return 'auto';
}

function planTooltip(plan: BackendPlan, configFile: string | undefined, report: DoctorReport): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown(`**${plan.ok ? 'Next run' : 'Next run will fail'}: ${planLabel(plan)}**`);
  if (configFile)
    md.appendMarkdown(
      ` for \`${path.basename(configFile)}\` (${plan.convs ? 'trains convolutions' : 'dense layers only'})`,
    );
  md.appendMarkdown('\n\n');
  if (plan.device) md.appendText(`Device: ${plan.device}\n\n`);
  md.appendText(`Why: ${plan.reason}\n\n`);
  if (plan.problem) md.appendText(`${plan.ok ? 'Warning' : 'Problem'}: ${plan.problem}\n\n`);
  if (plan.fix) md.appendText(`Fix: ${plan.fix}\n\n`);
  md.appendText(`Node ${report.node}, ${report.platform}. Click to check every backend.`);
  return md;
}

type PickItem = vscode.QuickPickItem & { row?: BackendRow; action?: 'settings' | 'report' };

function rowItem(r: BackendRow): PickItem {
  const icon = r.ok
    ? r.autoFor.length
      ? '$(pass-filled)'
      : '$(pass)'
    : r.action?.kind === 'setup'
      ? '$(tools)'
      : '$(circle-slash)';
  const auto = r.autoFor.length ? ` · auto picks it for ${r.autoFor.join(' and ')} models` : '';
  return {
    label: `${icon} ${r.name}`,
    description: r.device ?? (r.installed ? 'does not load' : 'not installed'),
    detail: `${r.facts}${auto} — ${r.detail}${r.fix ? ` — Fix: ${r.fix}` : ''}`,
    row: r,
  };
}

/** The report as a read-only Markdown document (distill-backends:), for what the list truncates. */
export class BackendsDocument implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'distill-backends';
  static readonly uri = vscode.Uri.from({ scheme: BackendsDocument.scheme, path: '/Distill Backends.md' });
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly report: () => DoctorReport | undefined) {}

  provideTextDocumentContent(): string {
    const r = this.report();
    return r ? backendsMarkdown(r) : '# Distill backends\n\nNot checked yet: run **Distill: Check Backends**.\n';
  }

  refresh(): void {
    this.changed.fire(BackendsDocument.uri);
  }

  dispose(): void {
    this.changed.dispose();
  }
}

/** Every backend as a quick pick: installed, loads, device, convolutions, its fix; picking one applies its fix or shows it whole. */
export async function showBackends(ctx: Ctx, report: DoctorReport): Promise<void> {
  const items: PickItem[] = [
    { label: 'tfjs backends', kind: vscode.QuickPickItemKind.Separator },
    ...backendRows(report).map(rowItem),
  ];
  if (report.onnxProviders?.length) {
    items.push({ label: 'ONNX teachers', kind: vscode.QuickPickItemKind.Separator });
    for (const p of report.onnxProviders)
      items.push({
        label: `${p.available ? '$(pass)' : '$(circle-slash)'} onnx ${p.name}`,
        description: p.available ? 'available' : 'not available',
        detail: p.detail,
      });
  }
  items.push(
    { label: '', kind: vscode.QuickPickItemKind.Separator },
    { label: '$(preview) Open the whole report', description: 'every line in full, as Markdown', action: 'report' },
    {
      label: '$(settings-gear) Choose the backend for runs from the editor',
      description: `distill.backend: ${ctx.settings().backend || "the config's"}`,
      action: 'settings',
    },
  );
  const picked = await vscode.window.showQuickPick(items, {
    title: `Distill backends — auto: dense models → ${report.auto.dense.name}, conv models → ${report.auto.conv.name} (Node ${report.node}, ${report.platform})`,
    placeHolder: 'Pick a backend to apply its fix or read it whole',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!picked) return;
  if (picked.action === 'settings')
    await vscode.commands.executeCommand('workbench.action.openSettings', 'distill.backend');
  else if (picked.action === 'report') {
    ctx.backendsDocument?.refresh();
    await vscode.commands
      .executeCommand('markdown.showPreview', BackendsDocument.uri)
      .then(undefined, () => vscode.window.showTextDocument(BackendsDocument.uri));
  } else if (picked.row?.action?.kind === 'setup') await vscode.commands.executeCommand('distill.setUpNativeBackend');
  else if (picked.row) {
    const r = picked.row;
    const text = `${r.name}: ${r.facts}${r.device ? ` (${r.device})` : ''}. ${r.detail}.${r.fix ? ` Fix: ${r.fix}` : ''}`;
    const a = await vscode.window.showInformationMessage(text, ...(r.fix ? ['Copy Fix'] : []));
    if (a) await vscode.env.clipboard.writeText(r.fix!);
  }
}

/** Distill: Check Backends: a fresh doctor report (cancellable), then the list. */
export async function checkBackends(ctx: Ctx): Promise<void> {
  let report: DoctorReport;
  try {
    report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Distill: checking backends', cancellable: true },
      (_progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        return ctx.backends.refresh(abort.signal);
      },
    );
  } catch (err) {
    if ((err as Error).name !== 'AbortError')
      void vscode.window.showErrorMessage(`Check Backends: ${(err as Error).message}`);
    return;
  }
  await showBackends(ctx, report);
}

/** A long step under a cancellable notification; its output goes to the setup's log. */
function withStep<T extends StepResult>(
  title: string,
  log: vscode.OutputChannel,
  run: (o: StepOptions) => Promise<T>,
): Thenable<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    (progress, token) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return run({
        signal: abort.signal,
        onLine: (line) => {
          log.appendLine(line);
          const m = /^setup-native-tfjs: (.*)$/.exec(line);
          if (m) progress.report({ message: m[1] });
        },
      });
    },
  );
}

/** Distill: Set Up Native Backend: tfjs-node into the global storage, online or (where the download fails) built from the wheel. */
export async function setUpNativeBackend(ctx: Ctx): Promise<void> {
  const dir = ctx.nativeDir();
  const log = ctx.setupLog();
  const tensorflow = ctx.backends.report?.backends.find((b) => b.name === 'tensorflow');
  if (tensorflow?.loads && fs.existsSync(path.join(nativePackageDir(dir, '@tensorflow/tfjs-node'), 'package.json'))) {
    const a = await vscode.window.showInformationMessage(
      `The native backend is set up already: tensorflow loads (${tensorflow.device ?? 'CPU'}) from ${dir}.`,
      'Reinstall',
    );
    if (a !== 'Reinstall') return;
    fs.rmSync(dir, { recursive: true, force: true });
    log.appendLine(`Removed ${dir} to reinstall.`);
  }
  const tools = findNodeAndNpm({
    nodePath: ctx.settings().nodePath,
    execPath: process.execPath,
    pathEnv: process.env.PATH ?? process.env.Path,
    platform: process.platform,
  });
  if ('error' in tools) {
    log.appendLine(`Set Up Native Backend: ${tools.error}`);
    const a = await vscode.window.showErrorMessage(`Set Up Native Backend: ${tools.error}.`, 'Open Settings');
    if (a) await vscode.commands.executeCommand('workbench.action.openSettings', 'distill.nodePath');
    return;
  }
  log.appendLine(
    `Installing @tensorflow/tfjs-node@${TFJS_NODE_VERSION} into ${dir} with ${tools.node} ${tools.npmCli}`,
  );
  const online = await withStep(`Distill: installing @tensorflow/tfjs-node ${TFJS_NODE_VERSION}`, log, (o) =>
    installOnline(dir, tools, o),
  );
  if (online.cancelled) {
    log.appendLine('Cancelled.');
    void vscode.window.showInformationMessage('Set Up Native Backend was cancelled.');
    return;
  }
  if (online.ok) return verify(ctx, log, 'installed');
  const why = errorSummary(online.output);
  log.appendLine(`npm install failed (exit code ${online.code}).`);
  if (online.failure === 'download' && offlineBuildSupported()) {
    const a = await vscode.window.showWarningMessage(
      `Set Up Native Backend: the tfjs-node install could not download libtensorflow from Google's storage (${why}). Build it instead from the tensorflow-cpu pip wheel? That needs Python 3 with pip, make, a C++ compiler and about 1 GB of disk.`,
      'Build from the Wheel',
      'Show Log',
    );
    if (a === 'Build from the Wheel') return offlineBuild(ctx, log, tools);
    if (a === 'Show Log') log.show(true);
    return;
  }
  const a = await vscode.window.showErrorMessage(`Set Up Native Backend: npm install failed: ${why}`, 'Show Log');
  if (a) log.show(true);
}

async function offlineBuild(ctx: Ctx, log: vscode.OutputChannel, tools: NodeAndNpm): Promise<void> {
  const script = path.join(ctx.extension.extensionPath, 'scripts', 'setup-native-tfjs.sh');
  if (!fs.existsSync(script)) {
    void vscode.window.showErrorMessage(
      `Set Up Native Backend: ${script} is missing from this installation of the extension.`,
    );
    return;
  }
  log.appendLine(`$ bash ${script} --prefix ${ctx.nativeDir()}`);
  const r = await withStep('Distill: building the native backend from the tensorflow-cpu wheel', log, (o) =>
    buildFromWheel(script, ctx.nativeDir(), tools, o),
  );
  if (r.cancelled) {
    log.appendLine('Cancelled.');
    void vscode.window.showInformationMessage('The native backend build was cancelled.');
    return;
  }
  if (!r.ok) {
    const line =
      r.output
        .split('\n')
        .filter((l) => l.startsWith('setup-native-tfjs: error:'))
        .at(-1)
        ?.replace('setup-native-tfjs: error: ', '') ?? errorSummary(r.output);
    const a = await vscode.window.showErrorMessage(`The native backend build failed: ${line}`, 'Show Log');
    if (a) log.show(true);
    return;
  }
  await verify(ctx, log, 'built');
}

/** The trainer itself says whether the tensorflow backend now loads (a fresh doctor report, shown everywhere). */
async function verify(ctx: Ctx, log: vscode.OutputChannel, done: 'installed' | 'built'): Promise<void> {
  let report: DoctorReport;
  try {
    report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Distill: checking the native backend' },
      () => ctx.backends.refresh(),
    );
  } catch (err) {
    void vscode.window.showErrorMessage(
      `Set Up Native Backend: ${done}, but the backend check failed: ${(err as Error).message}`,
    );
    return;
  }
  const tf = report.backends.find((b) => b.name === 'tensorflow');
  log.appendLine(`tensorflow: ${tf ? `${tf.loads ? 'loads' : 'does not load'}: ${tf.detail}` : 'not in the report'}`);
  if (tf?.loads) {
    const uses = (['dense', 'conv'] as const).filter((k) => report.auto[k].name === 'tensorflow');
    void vscode.window.showInformationMessage(
      `Native backend ready: tensorflow on ${tf.device ?? 'the CPU'}. Runs started from the editor use it ${uses.length ? `(auto picks it for ${uses.join(' and ')} models)` : 'when a config or distill.backend names it (auto prefers another here)'}.`,
    );
  } else {
    const a = await vscode.window.showErrorMessage(
      `Set Up Native Backend: ${done} into ${ctx.nativeDir()}, but the trainer's tensorflow backend does not load: ${tf?.detail ?? 'not reported'}`,
      'Show Log',
    );
    if (a) log.show(true);
  }
}
