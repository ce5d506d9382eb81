import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  answer,
  answerStep,
  mediaShot,
  openWalkthrough,
  quickInputBack,
  walkthroughStep,
  waitForQuickInputTitle,
  clickRowAction,
  closeBrowser,
  dashboardFrame,
  demoConfig,
  e2eSkipReason,
  installExtension,
  notificationText,
  notificationTexts,
  openFile,
  openVsCode,
  runCommand,
  runRows,
  shot,
  statusBarText,
  waitForRow,
  waitForStatus,
  trainWithCli,
  runRow,
  runCommandAndPick,
  type VsCode,
} from './harness.ts';
import { root } from '../helpers/cli.ts';

// Each scenario drives a real VS Code (code-server) in Chromium the way a user does, asserts what
// the user would see, and saves a screenshot under test-results/e2e/.
const skip = e2eSkipReason();

before(() => {
  if (!skip) installExtension();
});
after(closeBrowser);

async function withVsCode(
  files: Record<string, string>,
  fn: (vs: VsCode) => Promise<void>,
  options: Parameters<typeof openVsCode>[1] = {},
): Promise<void> {
  const vs = await openVsCode(files, options);
  try {
    await fn(vs);
  } catch (err) {
    await shot(vs.page, `failure-${Date.now()}`).catch(() => undefined);
    throw err;
  } finally {
    await vs.close();
  }
}

async function showRunsView(vs: VsCode): Promise<void> {
  await runCommand(vs.page, 'View: Show Distill');
  await vs.page.waitForTimeout(500);
}

async function problems(vs: VsCode): Promise<string[]> {
  await runCommand(vs.page, 'Problems: Focus on Problems View');
  await vs.page.waitForTimeout(800);
  return vs.page.$$eval('.markers-panel .monaco-list-row', (rows) =>
    rows.map((r) => r.getAttribute('aria-label') ?? r.textContent ?? ''),
  );
}

test(
  '1. New Distillation Project from the palette: steps with Back, a summary, then a config with no problems',
  { skip },
  async () => {
    await withVsCode({ 'README.md': '# e2e\n' }, async (vs) => {
      const { page } = vs;
      await runCommand(page, 'Distill: New Distillation Project');
      await answerStep(page, 'name', 'demo', 'type');
      await answerStep(page, 'data', 'Embedded demo');
      await answerStep(page, 'unlabeled', 'None');
      await answerStep(page, 'teacher', 'Embedded demo CNN');
      await answerStep(page, 'student', 'CNN');
      // Back from the width returns to the student step, which keeps the answer offered.
      await waitForQuickInputTitle(page, 'student conv channels');
      await quickInputBack(page);
      await answerStep(page, ': student', 'MLP');
      await answerStep(page, 'student hidden units', '32', 'type');
      await waitForQuickInputTitle(page, 'method');
      const methods = await page.$$eval('.quick-input-list .monaco-list-row', (rows) =>
        rows.map((r) => r.getAttribute('aria-label') ?? ''),
      );
      for (const m of ['Decoupled KD', 'FitNets', 'Relational KD', 'Teacher-free', 'Label smoothing', 'Combine'])
        assert.ok(
          methods.some((r) => r.includes(m)),
          `${m} in ${methods.join(' | ')}`,
        );
      await shot(page, '1-new-project-methods');
      await answer(page, 'Knowledge distillation');
      await answerStep(page, 'temperature', '2', 'type');
      await answerStep(page, 'alpha', '0.1', 'type');
      await answerStep(page, 'strategy', 'Single student');
      await answerStep(page, 'epochs', '3', 'type');
      await waitForQuickInputTitle(page, 'summary');
      const summary = await page.$$eval('.quick-input-list .monaco-list-row', (rows) =>
        rows.map((r) => r.getAttribute('aria-label') ?? ''),
      );
      assert.ok(
        summary.some((r) => r.includes('"method":"kd"') && r.includes('"temperature":2')),
        summary.join(' | '),
      );
      const file = path.join(vs.workspace, 'demo.distill.json');
      assert.ok(!fs.existsSync(file), 'nothing is written before the summary is accepted');
      await shot(page, '1-new-project-summary');
      await answer(page, 'Create demo.distill.json');
      for (let i = 0; i < 40 && !fs.existsSync(file); i++) await page.waitForTimeout(250);
      const config = JSON.parse(fs.readFileSync(file, 'utf8'));
      assert.deepEqual(config.distill, { method: 'kd', temperature: 2, alpha: 0.1 });
      assert.deepEqual(config.student.architecture, { type: 'mlp', hidden: [32] });
      assert.deepEqual(config.strategy, { type: 'single' });
      assert.equal(config.train.epochs, 3);
      await page.waitForSelector('.tab[aria-label*="demo.distill.json"]');
      await page.waitForTimeout(2000);
      assert.deepEqual(await problems(vs), []);
      await shot(page, '1-new-project');
    });
  },
);

test(
  '2. Start Run: the Runs view shows it running, the status bar follows it, it finishes, the dashboard has curves and numbers',
  { skip },
  async () => {
    await withVsCode({ 'demo.distill.json': demoConfig('e2e', 40) }, async (vs) => {
      const { page } = vs;
      await openFile(page, 'demo.distill.json');
      await runCommand(page, 'Distill: Start Run');
      await showRunsView(vs);
      const running = await waitForRow(page, /e2e.*(scratch|distill) \d+\/40/, 90000);
      assert.match(running, /\d+%/, 'progress is shown');
      let status = '';
      for (let i = 0; i < 60 && !/Distill: (scratch|distill) \d+\/40 · loss \d+\.\d+/.test(status); i++) {
        status = await statusBarText(page);
        await page.waitForTimeout(250);
      }
      assert.match(status, /Distill: (scratch|distill) \d+\/40 · loss \d+\.\d+ · val \d+\.\d% · ETA \d+s/);
      await shot(page, '2-running');
      await waitForStatus(path.join(vs.workspace, '.distill', 'runs'), 'finished');
      const row = await waitForRow(page, /e2e.*acc \d+\.\d\d%/);
      assert.match(row, /acc \d+\.\d\d%/);
      await runCommand(page, 'Distill: Open Dashboard');
      await answer(page, 'e2e').catch(() => undefined);
      const frame = await dashboardFrame(page, 'table.summary');
      const cells = await frame.$$eval('table.summary tr[data-model] td', (tds) => tds.map((t) => t.textContent ?? ''));
      assert.ok(
        cells.some((c) => /^\d+\.\d\d%$/.test(c)),
        cells.join(' '),
      );
      const points = Number(await frame.getAttribute('#loss', 'data-points'));
      assert.ok(points > 0, `loss points ${points}`);
      await page.waitForTimeout(500);
      await shot(page, '2-dashboard');
    });
  },
);

test('3. Stop a run mid-way, then Resume: stopped with a checkpoint, then finished', { skip }, async () => {
  await withVsCode({ 'long.distill.json': demoConfig('long', 300, { bench: { enabled: false } }) }, async (vs) => {
    const { page } = vs;
    await openFile(page, 'long.distill.json');
    await runCommand(page, 'Distill: Start Run');
    await showRunsView(vs);
    await waitForRow(page, /long.*scratch \d+\/300/, 90000);
    await runCommand(page, 'Distill: Stop Run');
    await answer(page, 'long').catch(() => undefined);
    const runsDir = path.join(vs.workspace, '.distill', 'runs');
    await waitForStatus(runsDir, 'stopped', 60000);
    await notificationText(page, /stopped/, 20000);
    const [run] = fs.readdirSync(runsDir);
    const record = JSON.parse(fs.readFileSync(path.join(runsDir, run, 'run.json'), 'utf8'));
    assert.equal(record.status, 'stopped');
    const phase = record.phase as string;
    assert.ok(fs.readdirSync(path.join(runsDir, run, 'checkpoints', phase)).length > 0, 'a checkpoint exists');
    await shot(page, '3-stopped');
    await runCommand(page, 'Distill: Resume Run');
    await answer(page, 'long').catch(() => undefined);
    await waitForStatus(runsDir, 'finished', 240000);
    await waitForRow(page, /long.*acc \d+\.\d\d%/);
    await shot(page, '3-resumed');
  });
});

test(
  '4. An invalid config: the Problems panel shows the error at its line; Start Run refuses, naming it',
  { skip },
  async () => {
    const bad = demoConfig('bad', 3).replace('"temperature": 2', '"temperature": -2');
    const line = bad.split('\n').findIndex((l) => l.includes('"temperature": -2')) + 1;
    await withVsCode({ 'bad.distill.json': bad }, async (vs) => {
      const { page } = vs;
      await openFile(page, 'bad.distill.json');
      // The schema's diagnostics arrive once the extension has activated (9-19 s after the window opens here).
      const wanted = /temperature: expected a number > 0, found number -2|expected a number > 0, found number -2/;
      let rows: string[] = [];
      for (const deadline = Date.now() + 45_000; Date.now() < deadline; await page.waitForTimeout(1500)) {
        rows = await problems(vs);
        if (rows.some((r) => wanted.test(r))) break;
      }
      const hit = rows.find((r) => wanted.test(r));
      assert.ok(hit, rows.join(' | '));
      assert.match(hit, new RegExp(`(line|Ln) ${line}\\b|${line}:`), `at line ${line}: ${hit}`);
      await shot(page, '4-problems');
      await page.click('.tab[aria-label*="bad.distill.json"]');
      await runCommand(page, 'Distill: Start Run');
      const msg = await notificationText(page, /Cannot start bad\.distill\.json/);
      assert.match(msg, new RegExp(`line ${line}: distill\\.temperature: expected a number > 0`));
      assert.ok(
        !fs.existsSync(path.join(vs.workspace, '.distill', 'runs')) ||
          fs.readdirSync(path.join(vs.workspace, '.distill', 'runs')).length === 0,
      );
      await shot(page, '4-refused');
    });
  },
);

test('5. Reload the window during a run: the run continues and the dashboard re-attaches', { skip }, async () => {
  await withVsCode({ 'reload.distill.json': demoConfig('reload', 300, { bench: { enabled: false } }) }, async (vs) => {
    const { page } = vs;
    await openFile(page, 'reload.distill.json');
    await runCommand(page, 'Distill: Start Run');
    await showRunsView(vs);
    await waitForRow(page, /reload.*scratch \d+\/300/, 90000);
    await runCommand(page, 'Distill: Open Dashboard');
    await answer(page, 'reload').catch(() => undefined);
    await dashboardFrame(page, 'table.summary, #charts');
    const runsDir = path.join(vs.workspace, '.distill', 'runs');
    const [run] = fs.readdirSync(runsDir);
    const pid = JSON.parse(fs.readFileSync(path.join(runsDir, run, 'run.json'), 'utf8')).pid;
    await runCommand(page, 'Developer: Reload Window');
    await page.waitForTimeout(3000);
    await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
    process.kill(pid, 0); // the same trainer is still alive after the reload
    const frame = await dashboardFrame(page, '#charts', 90000); // the panel came back
    await shot(page, '5-after-reload');
    await waitForStatus(runsDir, 'finished', 300000);
    await frame.waitForFunction(() => document.querySelector('vscode-badge')?.textContent === 'finished', undefined, {
      timeout: 30000,
    });
    assert.equal(JSON.parse(fs.readFileSync(path.join(runsDir, run, 'run.json'), 'utf8')).status, 'finished');
    assert.equal(fs.readdirSync(runsDir).length, 1, 'no duplicate run');
    await shot(page, '5-finished');
  });
});

test('6. An untrusted workspace: running is refused with the reason; validation still works', { skip }, async () => {
  await withVsCode(
    { 'u.distill.json': demoConfig('untrusted', 2) },
    async (vs) => {
      const { page } = vs;
      await openFile(page, 'u.distill.json');
      await runCommand(page, 'Distill: Start Run');
      const msg = await notificationText(page, /Running is disabled/);
      assert.match(msg, /trusted workspace/);
      await shot(page, '6-untrusted-refused');
      await runCommand(page, 'Distill: Validate Config');
      const ok = await notificationText(page, /u\.distill\.json is valid/);
      assert.match(ok, /schema and files/);
      assert.ok(!fs.existsSync(path.join(vs.workspace, '.distill')));
      await shot(page, '6-untrusted-validate');
    },
    { trusted: false },
  );
});

void runRows;

test('7. Export Student, Benchmark Run, Compare Runs and Delete Run from the palette', { skip }, async () => {
  await withVsCode(
    {
      'a.distill.json': demoConfig('alpha', 3),
      'b.distill.json': demoConfig('beta', 3, { bench: { enabled: false } }),
    },
    async (vs) => {
      const { page } = vs;
      const runsDir = path.join(vs.workspace, '.distill', 'runs');
      await openFile(page, 'a.distill.json');
      await runCommand(page, 'Distill: Start Run');
      await waitForStatus(runsDir, 'finished');
      await openFile(page, 'b.distill.json');
      await runCommand(page, 'Distill: Start Run');
      for (
        let i = 0;
        i < 240 &&
        fs
          .readdirSync(runsDir)
          .filter(
            (r) =>
              fs.existsSync(path.join(runsDir, r, 'run.json')) &&
              JSON.parse(fs.readFileSync(path.join(runsDir, r, 'run.json'), 'utf8')).status === 'finished',
          ).length < 2;
        i++
      )
        await page.waitForTimeout(500);
      const [alpha, beta] = fs
        .readdirSync(runsDir)
        .sort((x, y) => (x.includes('alpha') ? -1 : y.includes('alpha') ? 1 : 0));
      assert.match(alpha, /alpha/);

      await runCommandAndPick(page, 'Distill: Export Student', alpha);
      await answer(page, 'onnx');
      await page.waitForSelector('.quick-input-widget input', { state: 'visible' }); // the save dialog, with the default path
      await page.keyboard.press('Enter');
      const exported = await notificationText(page, /wrote .*-student\.onnx/, 60000);
      assert.match(exported, /onnxruntime matches tfjs within/);
      assert.ok(fs.statSync(path.join(vs.workspace, `${alpha}-student.onnx`)).size > 1000);

      await runCommandAndPick(page, 'Distill: Benchmark Run', beta);
      await notificationText(page, /Benchmark written to/, 120000);
      assert.ok(JSON.parse(fs.readFileSync(path.join(runsDir, beta, 'bench.json'), 'utf8')).results.length > 0);

      await runCommand(page, 'Distill: Compare Runs');
      await page.waitForSelector('.quick-input-list .monaco-list-row');
      for (const id of [alpha, beta]) await page.click(`.quick-input-list .monaco-list-row[aria-label*="${id}"]`); // tick both
      await page.waitForSelector('.quick-input-widget :text("2 Selected")');
      await page.keyboard.press('Enter');
      const frame = await dashboardFrame(page, 'table.summary');
      await frame.waitForFunction(() => document.querySelectorAll('table.summary').length === 2);
      await shot(page, '7-compare');

      await runCommandAndPick(page, 'Distill: Delete Run', beta);
      const confirm = page.getByRole('button', { name: 'Delete', exact: true });
      await confirm.waitFor();
      await shot(page, '7-delete-confirm');
      await confirm.click();
      for (let i = 0; i < 40 && fs.existsSync(path.join(runsDir, beta)); i++) await page.waitForTimeout(250);
      assert.ok(!fs.existsSync(path.join(runsDir, beta)));
      assert.ok(fs.existsSync(path.join(runsDir, alpha)));
    },
  );
});

test(
  '8. Check Backends lists every backend (cpu and wasm load); the Runs view and the status bar show the backend a run will use before it starts',
  { skip },
  async () => {
    await withVsCode(
      {
        'auto.distill.json': demoConfig('auto', 2, {
          backend: 'auto',
          bench: { enabled: false },
          export: { onnx: false },
        }),
      },
      async (vs) => {
        const { page } = vs;
        await openFile(page, 'auto.distill.json');
        // Before any run: the status bar and the Runs view's title say where the next run will train.
        let status = '';
        for (let i = 0; i < 120 && !/Distill: will train on /.test(status); i++) {
          status = await statusBarText(page);
          await page.waitForTimeout(250);
        }
        const planned = /Distill: will train on ([\w-]+) \(([^)]+)\)/.exec(status);
        assert.ok(planned, status);
        await showRunsView(vs);
        const description = await page.$$eval('.pane-header', (hs) =>
          hs
            .filter((h) => /Runs/.test(h.textContent ?? ''))
            .map((h) => h.querySelector('.description')?.textContent ?? ''),
        );
        assert.ok(
          description.some((d) => d.includes(`next run: ${planned[1]} (${planned[2]})`)),
          description.join(' | '),
        );
        await shot(page, '8-will-use');

        await runCommand(page, 'Distill: Check Backends');
        await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="cpu"]', { timeout: 60000 });
        const rows = await page.$$eval('.quick-input-list .monaco-list-row', (rs) =>
          rs.map((r) => ({
            label: (r.querySelector('.label-name')?.textContent ?? '').trim(),
            text: r.textContent ?? '',
          })),
        );
        const row = (name: string) => rows.find((r) => r.label === name);
        const seen = rows.map((r) => `${r.label}: ${r.text}`).join(' | ');
        for (const name of ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'])
          assert.ok(row(name), `${name} in ${seen}`);
        for (const name of ['wasm', 'cpu'])
          assert.match(row(name)!.text, /installed · loads · /, `${name} loads: ${seen}`);
        assert.match(row('wasm')!.text, /cannot train convolutions/);
        assert.match(row('cpu')!.text, /trains convolutions/);
        const title = await page.textContent('.quick-input-title');
        assert.match(
          title ?? '',
          new RegExp(`auto: dense models → ${planned[1]},`),
          "the list's auto choice is the one the status bar announced",
        );
        await shot(page, '8-check-backends');
        // The whole report, untruncated, as a Markdown preview.
        await answer(page, 'Open the whole report');
        const preview = await dashboardFrame(page, 'table');
        const cells = await preview.$$eval('table tr', (trs) =>
          trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
        );
        const cpu = cells.find((c) => c[0] === 'cpu');
        assert.deepEqual(cpu?.slice(1, 3), ['yes', 'yes'], JSON.stringify(cells));
        await shot(page, '8-report');

        // The run trains on the backend that was announced.
        const runsDir = path.join(vs.workspace, '.distill', 'runs');
        await page.click('.tab[aria-label*="auto.distill.json"]');
        await runCommand(page, 'Distill: Start Run');
        const dir = await waitForStatus(runsDir, 'finished');
        assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')).backend.name, planned[1]);
        const header = await waitForRow(page, /Next run: /, 30000);
        assert.match(header, new RegExp(`Next run: ${planned[1]} \\(${planned[2]}\\)`));
        await shot(page, '8-header');
      },
    );
  },
);

test('Runs view: Stop on a queued run takes it off the queue; the running run goes on', { skip }, async () => {
  await withVsCode(
    {
      'first.distill.json': demoConfig('first', 300, { bench: { enabled: false } }),
      'second.distill.json': demoConfig('second', 2, { bench: { enabled: false } }),
    },
    async (vs) => {
      const { page } = vs;
      const runsDir = path.join(vs.workspace, '.distill', 'runs');
      let pid: number | undefined;
      try {
        await openFile(page, 'first.distill.json');
        await runCommand(page, 'Distill: Start Run');
        await showRunsView(vs);
        await waitForRow(page, /first.*scratch \d+\/300/, 90000);
        const [first] = fs.readdirSync(runsDir);
        pid = JSON.parse(fs.readFileSync(path.join(runsDir, first, 'run.json'), 'utf8')).pid as number;
        // distill.maxConcurrentRuns is 1: the second run waits in the queue.
        await runCommand(page, 'View: Show Explorer');
        await openFile(page, 'second.distill.json');
        await runCommand(page, 'Distill: Start Run');
        await showRunsView(vs);
        await waitForRow(page, /second \(queued\)/, 30000);
        await shot(page, 'queued-before-stop');
        await clickRowAction(page, /second \(queued\)/, 'Stop Run');
        for (let i = 0; i < 40 && (await runRows(page)).some((r) => /second \(queued\)/.test(r)); i++)
          await page.waitForTimeout(250);
        assert.ok(!(await runRows(page)).some((r) => /second/.test(r)), 'the queued run left the view');
        // The running run was not asked to stop, and keeps training.
        assert.ok(!fs.existsSync(path.join(runsDir, first, 'stop.request')));
        const epochOf = () => JSON.parse(fs.readFileSync(path.join(runsDir, first, 'run.json'), 'utf8'));
        const before = epochOf().epoch ?? 0;
        for (let i = 0; i < 60 && (epochOf().epoch ?? 0) <= before; i++) await page.waitForTimeout(500);
        const after = epochOf();
        assert.equal(after.status, 'running');
        assert.ok((after.epoch ?? 0) > before, `still training: epoch ${before} -> ${after.epoch}`);
        process.kill(pid, 0);
        assert.deepEqual(fs.readdirSync(runsDir), [first], 'the dequeued run never started');
        await waitForRow(page, /first.*scratch \d+\/300/);
        await shot(page, 'queued-after-stop');
      } finally {
        if (pid) process.kill(pid, 'SIGKILL'); // the detached trainer outlives code-server
      }
    },
  );
});

test(
  'Reload the window while a run finishes: the re-attached run is announced and listed as finished, not failed',
  { skip },
  async () => {
    // One phase (no baseline) long enough to outlast the reload on a loaded machine.
    const config = demoConfig('ending', 150, { baseline: false, bench: { enabled: false } });
    await withVsCode({ 'ending.distill.json': config }, async (vs) => {
      const { page } = vs;
      await openFile(page, 'ending.distill.json');
      await runCommand(page, 'Distill: Start Run');
      await showRunsView(vs);
      await waitForRow(page, /ending.*distill \d+\/150/, 120000);
      const runsDir = path.join(vs.workspace, '.distill', 'runs');
      const [run] = fs.readdirSync(runsDir);
      const pid = JSON.parse(fs.readFileSync(path.join(runsDir, run, 'run.json'), 'utf8')).pid as number;
      await runCommand(page, 'Developer: Reload Window');
      await page.waitForTimeout(3000);
      await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
      // The new window re-attached the same trainer (the status bar follows its events) before it ended.
      let status = '';
      // The extension host restarts in 10-60 s on a loaded 2-core machine.
      for (let i = 0; i < 720 && !/Distill: (scratch|distill|finished)/.test(status); i++) {
        status = await statusBarText(page);
        await page.waitForTimeout(250);
      }
      assert.match(status, /Distill: distill \d+\/150/, 're-attached while still training');
      process.kill(pid, 0);
      const finished = await notificationText(page, /Distill run .*ending.* finished/, 400000);
      assert.match(finished, new RegExp(`Distill run ${run} finished`));
      assert.equal(JSON.parse(fs.readFileSync(path.join(runsDir, run, 'run.json'), 'utf8')).status, 'finished');
      const texts = await notificationTexts(page);
      assert.ok(!texts.some((t) => /failed|ended without/.test(t)), texts.join(' | '));
      await showRunsView(vs);
      await waitForRow(page, /ending.*acc \d+\.\d\d%/);
      await shot(page, 'reload-while-finishing');
    });
  },
);

// With DISTILL_WALKTHROUGH_MEDIA=1 its screenshots become the walkthrough's images (media/walkthrough/).
test(
  "Walkthrough: open it, every step is listed; check the backends and create a project from the steps' buttons, and the steps are checked",
  { skip },
  async () => {
    const media = process.env.DISTILL_WALKTHROUGH_MEDIA === '1';
    const image = async (page: VsCode['page'], name: string) =>
      media
        ? mediaShot(page, path.join(root, 'media', 'walkthrough', `${name}.png`))
        : shot(page, `walkthrough-${name}`);
    await withVsCode({ 'README.md': '# e2e\n' }, async (vs) => {
      const { page } = vs;
      await openWalkthrough(page, 'Get started with Distill Studio');
      const steps = await page.$$eval('.gettingStartedContainer .getting-started-step', (els) =>
        els.map((e) => e.textContent ?? ''),
      );
      for (const title of [
        'Check the backends',
        'Create a distillation project',
        'Train teacher, baseline and student',
        'Read the dashboard',
        'Compare runs and export the student',
      ])
        assert.ok(
          steps.some((s) => s.includes(title)),
          `${title} in ${steps.join(' | ')}`,
        );
      await shot(page, 'walkthrough');

      // 1. Check Backends: its quick pick lists the backends; the step is then checked.
      await walkthroughStep(page, 'Check the backends', 'Check Backends');
      await page.waitForSelector('.quick-input-list .monaco-list-row[aria-label*="wasm"]', { timeout: 120000 });
      await image(page, 'backends');
      await page.keyboard.press('Escape');
      await page.waitForSelector('.gettingStartedContainer .codicon.complete[data-done-step-id$="backends"]', {
        timeout: 20000,
      });

      // 2. New Distillation Project: the demo with a 16-unit student, 2 epochs.
      await walkthroughStep(page, 'Create a distillation project', 'New Distillation Project');
      await answerStep(page, 'name', 'walk', 'type');
      await answerStep(page, 'data', 'Embedded demo');
      await answerStep(page, 'unlabeled', 'None');
      await answerStep(page, 'teacher', 'Embedded demo CNN');
      await answerStep(page, 'student', 'MLP');
      await answerStep(page, 'student hidden units', '16', 'type');
      await waitForQuickInputTitle(page, 'method');
      await image(page, 'new-project');
      await answer(page, 'Knowledge distillation');
      await answerStep(page, 'temperature', '2', 'type');
      await answerStep(page, 'alpha', '0.1', 'type');
      await answerStep(page, 'strategy', 'Single student');
      await answerStep(page, 'epochs', '2', 'type');
      await answerStep(page, 'summary', 'Create walk.distill.json');
      const file = path.join(vs.workspace, 'walk.distill.json');
      for (let i = 0; i < 40 && !fs.existsSync(file); i++) await page.waitForTimeout(250);
      assert.ok(fs.existsSync(file), 'the config is written');
      await page.waitForSelector('.tab[aria-label*="walk.distill.json"]');

      // Running, the dashboard and comparing are scenarios 2, 7 and the Runs view's; here the steps'
      // buttons and completion: the two steps done are checked.
      await page.click('.tab[aria-label*="Walkthrough"], .tab[aria-label*="Welcome"]');
      for (const id of ['backends', 'newProject'])
        await page.waitForSelector(`.gettingStartedContainer .codicon.complete[data-done-step-id$="${id}"]`, {
          timeout: 20000,
        });
      await shot(page, 'walkthrough-done');
    });
  },
);

test(
  'Runs view: select two runs with Ctrl+click, Compare Runs from their context menu; the Run History sorts them',
  { skip },
  async () => {
    const config = (name: string, seed: number) =>
      demoConfig(name, 1, {
        train: { epochs: 1, logEvery: 4, seed },
        bench: { batchSizes: [1], minRuns: 3, minSeconds: 0.01, warmup: 1 },
      });
    await withVsCode(
      { 'alpha.distill.json': config('alpha', 2), 'beta.distill.json': config('beta', 1) },
      async (vs) => {
        const { page } = vs;
        const runsDir = path.join(vs.workspace, '.distill', 'runs');
        await showRunsView(vs);
        const ids = fs.readdirSync(runsDir).sort();
        const alpha = ids.find((r) => r.endsWith('-alpha'))!;
        const beta = ids.find((r) => r.endsWith('-beta'))!;
        await waitForRow(page, new RegExp(`${alpha}.*acc`));
        await waitForRow(page, new RegExp(`${beta}.*acc`));

        await runRow(page, alpha).click();
        await runRow(page, beta).click({ modifiers: ['Control'] });
        for (const id of [alpha, beta])
          assert.equal(await runRow(page, id).getAttribute('aria-selected'), 'true', `${id} is not selected`);
        await shot(page, 'runs-multiselect');
        await runRow(page, beta).click({ button: 'right' });
        const compareItem = page.locator('.monaco-menu .action-label', { hasText: /^Compare Runs$/ });
        await compareItem.click();
        // Under load a click can land while the context menu is still settling (it stays open,
        // the item highlighted): choose the item again with the keyboard, as a user would.
        const compareTab = '.tab[aria-label*="compare 2 runs"]';
        const opened = await page.waitForSelector(compareTab, { timeout: 8000 }).catch(() => null);
        if (!opened && (await compareItem.isVisible().catch(() => false))) {
          await compareItem.hover();
          await page.keyboard.press('Enter');
        }
        await page.waitForSelector(compareTab, { timeout: 30000 });
        // The comparison's frame (the first click opened alpha's own dashboard, one table): two summary tables.
        await dashboardFrame(page, 'table.summary >> nth=1');
        await page.mouse.move(900, 700); // off the row: no tooltip over the view
        await page.waitForTimeout(1000);
        await shot(page, 'runs-compare');

        // The Run History: both runs from their run.json, sorted by seed, then the other way.
        await runCommand(page, 'Distill: Show Run History');
        const history = await dashboardFrame(page, 'table.history tbody tr');
        const order = () =>
          history.$$eval('table.history tbody tr', (rows) => rows.map((r) => r.getAttribute('data-dir') ?? ''));
        await history.click('button[data-sort="seed"]');
        await history.waitForSelector('th[aria-sort="ascending"] button[data-sort="seed"]');
        assert.deepEqual(
          (await order()).map((d) => path.basename(d)),
          [beta, alpha],
        );
        await history.click('button[data-sort="seed"]');
        await history.waitForSelector('th[aria-sort="descending"] button[data-sort="seed"]');
        assert.deepEqual(
          (await order()).map((d) => path.basename(d)),
          [alpha, beta],
        );
        const cells = await history.$$eval(`tr[data-dir$="${alpha}"] td`, (tds) => tds.map((t) => t.textContent ?? ''));
        assert.ok(
          cells.includes('kd') && cells.includes('single') && cells.includes('wasm') && cells.includes('finished'),
          cells.join(' | '),
        );
        assert.ok(
          cells.some((c) => /^\d+\.\d+%$/.test(c)),
          `no accuracy in ${cells.join(' | ')}`,
        );
        assert.ok(
          cells.some((c) => / ms$/.test(c)),
          `no latency in ${cells.join(' | ')}`,
        );
        await shot(page, 'run-history');
      },

      // Two runs trained from a terminal before the window opens: the view lists them from their run.json.
      {
        before: async (workspace) => {
          await trainWithCli(workspace, 'alpha.distill.json');
          await trainWithCli(workspace, 'beta.distill.json');
        },
      },
    );
  },
);

test(
  'Dashboard: x axis, log scale, zoom and scroll survive a switch to another tab and back, without reloading the page',
  { skip },
  async () => {
    const config = demoConfig('viewstate', 3, { bench: { enabled: false } });
    await withVsCode({ 'viewstate.distill.json': config }, async (vs) => {
      const { page } = vs;
      await trainWithCli(vs.workspace, 'viewstate.distill.json');
      await openFile(page, 'viewstate.distill.json');
      await showRunsView(vs);
      await waitForRow(page, /viewstate.*acc/);
      await runCommand(page, 'Distill: Open Dashboard');
      await answer(page, 'viewstate').catch(() => undefined);
      let frame = await dashboardFrame(page, '#loss .u-over');
      // The user's view: epochs on x, a log loss axis, zoomed into the loss chart, scrolled down.
      await frame.click('#x-axis');
      await frame.waitForFunction(() => document.querySelector('#loss h3')?.textContent?.includes('epoch'));
      await frame.click('#log-scale');
      await frame.waitForFunction(() => document.getElementById('log-scale')?.hasAttribute('checked'));
      const over = (await (await frame.$('#loss .u-over'))!.boundingBox())!;
      await page.mouse.move(over.x + over.width * 0.3, over.y + over.height / 2);
      await page.mouse.down();
      await page.mouse.move(over.x + over.width * 0.7, over.y + over.height / 2, { steps: 5 });
      await page.mouse.up();
      assert.equal(await frame.getAttribute('#loss', 'data-zoomed'), 'true');
      await frame.evaluate(() => window.scrollTo(0, 200));
      const scrolled = await frame.evaluate(() => window.scrollY);
      assert.ok(scrolled > 0, 'the dashboard scrolls');
      // A mark on the page: a page that was loaded again (and sent every event again) has none.
      await frame.evaluate(() => ((window as unknown as { viewStateMark: number }).viewStateMark = 1));
      await shot(page, 'dashboard-view-state-before');

      // Another tab in front, then the dashboard again.
      await page.click('.tab[aria-label*="viewstate.distill.json"]');
      await page.waitForTimeout(1500);
      await page.click('.tab[aria-label*="Distill: "]');
      frame = await dashboardFrame(page, '#loss .u-over');
      await page.waitForTimeout(500);
      const view = await frame.evaluate(() => ({
        mark: (window as unknown as { viewStateMark?: number }).viewStateMark,
        xAxis: document.querySelector('#loss h3')?.textContent ?? '',
        log: document.getElementById('log-scale')?.hasAttribute('checked'),
        zoomed: document.getElementById('loss')?.dataset.zoomed,
        scrollY: window.scrollY,
      }));
      await shot(page, 'dashboard-view-state-after');
      assert.deepEqual(
        { ...view, xAxis: /epoch/.test(view.xAxis) },
        { mark: 1, xAxis: true, log: true, zoomed: 'true', scrollY: scrolled },
      );
    });
  },
);

test(
  'Sweep: Run Sweep on a *.sweep.json: the group and its tasks appear in the Runs view, the sweep view opens',
  { skip },
  async () => {
    const sweep = {
      config: 'tiny.distill.json',
      name: 'tiny',
      seeds: [0],
      grid: { 'distill.temperature': [1, 4] },
      // Small and quick: the scenario is about the editor, not the training.
      set: { 'bench.enabled': false, 'data.trainLimit': 300 },
    };
    await withVsCode(
      { 'tiny.distill.json': demoConfig('tiny', 2), 'tiny.sweep.json': `${JSON.stringify(sweep, null, 2)}\n` },
      async (vs) => {
        const { page } = vs;
        await openFile(page, 'tiny.sweep.json');
        await runCommand(page, 'Distill: Run Sweep');
        await showRunsView(vs);
        await waitForRow(page, /tiny.*grid: 2 settings × 1 seed/, 90000);
        // The group expands to its tasks: each with its setting and seed.
        await runRow(page, 'grid: 2 settings').click();
        await waitForRow(page, /#0 distill\.temperature=1 · seed 0/, 30000);
        await waitForRow(page, /#1 distill\.temperature=4 · seed 0/, 30000);
        await waitForRow(page, /tiny.*2\/2 finished/, 300000);
        await notificationText(page, /sweep .* finished and was aggregated/, 60000);
        await shot(page, 'sweep-runs-view');
        await runCommand(page, 'Distill: Open Sweep View');
        const frame = await dashboardFrame(page, 'table.settings tbody tr', 60000);
        assert.equal((await frame.$$('table.settings tbody tr')).length, 2);
        assert.match(
          (await frame.textContent('#chosen'))!,
          /Chosen on validation accuracy: distill\.temperature=(1|4)/,
        );
        assert.equal((await frame.$$('svg.parallel polyline.pc-line')).length, 2);
        await shot(page, 'sweep-view');
      },
    );
  },
);
