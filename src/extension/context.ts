/** Everything the commands share, built once in activate (rust-analyzer's Ctx pattern). */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings, type Settings } from './settings.ts';
import { RunManager } from './runs/runManager.ts';
import { RunStore, type RunView } from './runs/runStore.ts';
import type { ConfigDiagnostics } from './diagnostics.ts';
import type { TrainerCommand } from './trainerCli.ts';
import { BackendState } from './backendState.ts';
import { NATIVE_DIR_ENV } from '../core/nativeModules.ts';
import { SweepStore } from './sweeps/sweepStore.ts';
import { SweepRunner } from './sweeps/sweepRunner.ts';

export interface DashboardOpener {
  open(runDirs: string[]): void;
}

export interface BackendViewLike {
  started(configFile: string): void;
  update(): void;
}

export function nativeDirOf(extension: vscode.ExtensionContext): string {
  return path.join(extension.globalStorageUri.fsPath, 'native');
}

export function trainerEnvOf(extension: vscode.ExtensionContext): NodeJS.ProcessEnv {
  return { [NATIVE_DIR_ENV]: nativeDirOf(extension) };
}

export class Ctx {
  readonly lastRunOf = new Map<string, string>();
  private readonly channels = new Map<
    string,
    { channel: vscode.OutputChannel; offset: number; reading: Promise<void> }
  >();
  private readonly refreshers: Array<() => void> = [];
  private setupChannel: vscode.OutputChannel | undefined;
  private logChannel_: vscode.LogOutputChannel | undefined;
  /** The runs the Runs view, the CodeLens and the commands list: run.json files, read asynchronously. */
  readonly store = new RunStore(() => this.runsDirs());
  /** The sweeps under the same folders (a folder with sweep.json), their tasks' runs with the run manager's view of them. */
  readonly sweeps = new SweepStore(
    () => this.runsDirs(),
    (r) => this.withManager(r),
  );
  dashboards!: DashboardOpener;
  /** Runs, stops and submits sweeps through the trainer CLI. */
  readonly sweepRunner = new SweepRunner(() => this.trainer());
  /** The sweep panels (one per sweep folder). */
  sweepPanels!: { open(dir: string): void };
  backendView?: BackendViewLike;
  backendsDocument?: { refresh(): void };
  /** The Runs view's selection (Compare Runs from its title bar). */
  runsTree?: { selectedRuns(): RunView[] };
  /** The Run History panel. */
  history?: { show(): void };
  /** The window's doctor report (what each backend does here). */
  readonly backends = new BackendState(() => this.trainer());

  constructor(
    readonly extension: vscode.ExtensionContext,
    readonly runs: RunManager,
    readonly diagnostics: ConfigDiagnostics,
  ) {}

  settings(): Settings {
    return readSettings();
  }

  trainerPath(): string {
    return path.join(this.extension.extensionPath, 'dist', 'trainer', 'cli.js');
  }

  trainer(): TrainerCommand {
    return {
      trainerPath: this.trainerPath(),
      nodePath: this.settings().nodePath || process.execPath,
      env: this.trainerEnv(),
    };
  }

  /** Where Set Up Native Backend installs @tensorflow/tfjs-node: `<global storage>/native`. */
  nativeDir(): string {
    return nativeDirOf(this.extension);
  }

  /** Added to every trainer's environment: the native folder, which the trainer loads tfjs-node from. */
  trainerEnv(): NodeJS.ProcessEnv {
    return trainerEnvOf(this.extension);
  }

  /** The extension's own log ("Distill Studio" in the Output view): what failed in the background, with its cause. */
  log(): vscode.LogOutputChannel {
    if (!this.logChannel_) {
      this.logChannel_ = vscode.window.createOutputChannel('Distill Studio', { log: true });
      this.extension.subscriptions.push(this.logChannel_);
    }
    return this.logChannel_;
  }

  /** The native setup's output. */
  setupLog(): vscode.OutputChannel {
    if (!this.setupChannel) {
      this.setupChannel = vscode.window.createOutputChannel('Distill: Native Backend');
      this.extension.subscriptions.push(this.setupChannel);
    }
    return this.setupChannel;
  }

  /** Runs folders to list: the setting's in each workspace folder, and every config's output folder used here. */
  runsDirs(): string[] {
    const dirs = new Set<string>(this.extension.workspaceState.get<string[]>('distill.runsDirs', []));
    for (const f of vscode.workspace.workspaceFolders ?? [])
      dirs.add(path.resolve(f.uri.fsPath, this.settings().runsFolder));
    return [...dirs].filter((d) => fs.existsSync(d));
  }

  rememberRunsDir(dir: string): void {
    const dirs = new Set(this.extension.workspaceState.get<string[]>('distill.runsDirs', []));
    if (!dirs.has(dir)) void this.extension.workspaceState.update('distill.runsDirs', [...dirs, dir]);
  }

  /** The runs that are no sweep's task, as of the store's last refresh (no file is read here): the Runs view's top level. */
  topRuns(): RunView[] {
    return this.store.runs.map((r) => this.withManager(r));
  }

  /** Every run, sweep tasks included, as of the last refresh: what the commands pick from. */
  allRuns(): RunView[] {
    return [...this.topRuns(), ...this.sweeps.views.flatMap((v) => v.tasks.flatMap((t) => (t.run ? [t.run] : [])))];
  }

  /** The run manager knows more than run.json: a trainer it launched that has not written it yet, and a stop it asked for (the run is "stopping" until the trainer exits). */
  private withManager(r: RunView): RunView {
    if (!this.runs.runningDirs.includes(r.dir)) return r;
    const status = this.runs.isStopping(r.dir) ? ('stopping' as const) : ('running' as const);
    return r.status === status ? r : { ...r, status, interrupted: false };
  }

  onRefresh(fn: () => void): void {
    this.refreshers.push(fn);
  }

  /** Re-reads the runs (asynchronously), then redraws what lists them. */
  refresh(): void {
    void Promise.all([this.store.refresh(), this.sweeps.refresh()]).then(
      () => this.redraw(),
      (err: unknown) => this.log().error('reading the runs folders failed', err),
    );
  }

  /** Re-reads the runs; redraws only when what they show changed (the 5 s poll, run.json changes). */
  refreshIfChanged(): void {
    void Promise.all([this.store.refresh(), this.sweeps.refresh()]).then(
      ([runs, sweeps]) => (runs || sweeps) && this.redraw(),
      (err: unknown) => this.log().error('reading the runs folders failed', err),
    );
  }

  private redraw(): void {
    for (const fn of this.refreshers) fn();
  }

  /** The run's trainer output, in an output channel of its own. */
  logChannel(dir: string): vscode.OutputChannel {
    let entry = this.channels.get(dir);
    if (!entry) {
      entry = {
        channel: vscode.window.createOutputChannel(`Distill: ${path.basename(dir)}`),
        offset: 0,
        reading: Promise.resolve(),
      };
      this.channels.set(dir, entry);
      this.extension.subscriptions.push(entry.channel);
    }
    this.pumpLog(dir);
    return entry.channel;
  }

  /** Appends what the trainer wrote to its log since the last call. */
  pumpLog(dir: string): void {
    const entry = this.channels.get(dir);
    if (!entry) return;
    // Asynchronously, only the bytes after the last read, one read at a time.
    entry.reading = entry.reading.then(async () => {
      let handle: fs.promises.FileHandle | undefined;
      try {
        handle = await fs.promises.open(path.join(dir, 'trainer.log'), 'r');
        const size = (await handle.stat()).size;
        if (size <= entry.offset) return;
        const buf = Buffer.alloc(size - entry.offset);
        const { bytesRead } = await handle.read(buf, 0, buf.length, entry.offset);
        entry.offset += bytesRead;
        entry.channel.append(
          buf
            .subarray(0, bytesRead)
            .toString('utf8')
            .replace(/\r\x1b\[K/g, '\n'),
        );
      } catch {
        // No log (a run started from the terminal): nothing to show.
      } finally {
        await handle?.close();
      }
    });
  }
}
