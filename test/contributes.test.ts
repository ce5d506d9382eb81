// The manifest and the code agree: the commands package.json contributes are exactly those the
// extension registers, and every command a menu, keybinding, walkthrough, welcome text, tree item
// or executeCommand names exists. Read from the sources with the TypeScript parser: no VS Code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { root } from './helpers/cli.ts';

interface Manifest {
  contributes: {
    commands: Array<{ command: string; title: string }>;
    menus?: Record<string, Array<{ command?: string; alt?: string; submenu?: string }>>;
    keybindings?: Array<{ command: string }>;
    viewsWelcome?: Array<{ contents: string }>;
    walkthroughs?: Array<{ steps: Array<{ description?: string; completionEvents?: string[] }> }>;
  };
}

const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
const contributed = manifest.contributes.commands.map((c) => c.command);

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

interface Found {
  /** Ids passed to vscode.commands.registerCommand (directly or through a local helper such as `c`). */
  registered: Map<string, string>;
  /** Ids the code runs or puts in tree items and links: executeCommand('…'), `command: '…'`. */
  used: Map<string, string>;
  /** Registrations whose id is not a literal (the test cannot see them: write them with a literal). */
  opaque: string[];
}

const isRegisterCall = (e: ts.Expression) =>
  ts.isPropertyAccessExpression(e) &&
  (e.name.text === 'registerCommand' || e.name.text === 'registerTextEditorCommand') &&
  ts.isPropertyAccessExpression(e.expression) &&
  e.expression.name.text === 'commands';

/** Reads the command ids out of the extension's sources. */
function scan(files: string[]): Found {
  const found: Found = { registered: new Map(), used: new Map(), opaque: [] };
  for (const file of files) {
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const where = (n: ts.Node) =>
      `${path.relative(root, file)}:${sf.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
    // Local helpers that pass their first parameter to registerCommand: `const c = (id, fn) => vscode.commands.registerCommand(id, fn)`.
    const helpers = new Set<string>();
    const helperParams = new Set<ts.Node>();
    const findHelpers = (n: ts.Node) => {
      if (
        ts.isVariableDeclaration(n) &&
        ts.isIdentifier(n.name) &&
        n.initializer &&
        ts.isArrowFunction(n.initializer)
      ) {
        const fn = n.initializer;
        const first = fn.parameters[0];
        let passes = false;
        const look = (m: ts.Node) => {
          if (
            ts.isCallExpression(m) &&
            isRegisterCall(m.expression) &&
            first &&
            ts.isIdentifier(m.arguments[0]) &&
            m.arguments[0].text === first.name.getText(sf)
          ) {
            passes = true;
            helperParams.add(m);
          }
          ts.forEachChild(m, look);
        };
        look(fn.body);
        if (passes) helpers.add(n.name.text);
      }
      ts.forEachChild(n, findHelpers);
    };
    findHelpers(sf);
    const visit = (n: ts.Node) => {
      if (ts.isCallExpression(n)) {
        const callee = n.expression;
        const registers = isRegisterCall(callee) || (ts.isIdentifier(callee) && helpers.has(callee.text));
        const id = n.arguments[0];
        if (registers && !helperParams.has(n)) {
          if (id && ts.isStringLiteralLike(id)) found.registered.set(id.text, where(n));
          else found.opaque.push(where(n));
        }
        if (
          ts.isPropertyAccessExpression(callee) &&
          callee.name.text === 'executeCommand' &&
          id &&
          ts.isStringLiteralLike(id) &&
          id.text.startsWith('distill.')
        )
          found.used.set(id.text, where(n));
      }
      if (
        ts.isPropertyAssignment(n) &&
        n.name.getText(sf) === 'command' &&
        ts.isStringLiteralLike(n.initializer) &&
        n.initializer.text.startsWith('distill.')
      )
        found.used.set(n.initializer.text, where(n));
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return found;
}

const found = scan(sourceFiles(path.join(root, 'src', 'extension')));

test('every registration names its command with a literal (so that this test sees it)', () => {
  assert.deepEqual(found.opaque, []);
  assert.ok(found.registered.size >= 10, `found only ${found.registered.size} registrations: the scan is broken`);
});

test('package.json contributes exactly the commands the extension registers', () => {
  const registered = [...found.registered.keys()];
  const notRegistered = contributed.filter((c) => !found.registered.has(c));
  const notContributed = registered.filter((c) => !contributed.includes(c));
  assert.deepEqual(
    { notRegistered, notContributed },
    { notRegistered: [], notContributed: [] },
    'contributes.commands and the registerCommand calls in src/extension differ',
  );
  assert.equal(new Set(contributed).size, contributed.length, 'a command is contributed twice');
});

test('every menu, keybinding, welcome link and walkthrough step names a contributed command', () => {
  const named: Array<[string, string]> = [];
  for (const [menu, items] of Object.entries(manifest.contributes.menus ?? {}))
    for (const item of items) {
      if (item.command) named.push([item.command, `menus.${menu}`]);
      if (item.alt) named.push([item.alt, `menus.${menu} (alt)`]);
    }
  for (const k of manifest.contributes.keybindings ?? []) named.push([k.command, 'keybindings']);
  const links = (text: string, where: string) => {
    for (const m of text.matchAll(/command:(distill\.[\w.]+)/g)) named.push([m[1], where]);
  };
  for (const w of manifest.contributes.viewsWelcome ?? []) links(w.contents, 'viewsWelcome');
  for (const [i, w] of (manifest.contributes.walkthroughs ?? []).entries())
    for (const [j, step] of w.steps.entries()) {
      links(step.description ?? '', `walkthroughs[${i}].steps[${j}].description`);
      for (const e of step.completionEvents ?? [])
        if (e.startsWith('onCommand:')) named.push([e.slice('onCommand:'.length), `walkthroughs[${i}].steps[${j}]`]);
    }
  const missing = named.filter(([c]) => c.startsWith('distill.') && !contributed.includes(c));
  assert.deepEqual(missing, [], 'these name commands that package.json does not contribute');
  const foreign = named.filter(([c, where]) => where.startsWith('menus') && !c.startsWith('distill.'));
  assert.deepEqual(foreign, [], 'menus name commands of other extensions');
});

test('every command the code runs or puts in a tree item exists', () => {
  const missing = [...found.used].filter(([c]) => !contributed.includes(c) && !found.registered.has(c));
  assert.deepEqual(missing, []);
});

test('the palette shows a command only where it applies: each menu-only command is hidden there', () => {
  // A command that needs a selected item (refresh is the view's own) must not be in the palette.
  const palette = new Map((manifest.contributes.menus?.commandPalette ?? []).map((e) => [e.command, e]));
  assert.equal(palette.get('distill.refreshRuns')?.['when' as never], 'false');
  for (const id of ['distill.stopRun', 'distill.resumeRun', 'distill.exportStudent', 'distill.benchmarkRun'])
    assert.match(
      String(palette.get(id)?.['when' as never] ?? ''),
      /distill\.has\w+Runs/,
      `${id} is in the palette even when no run fits`,
    );
});
