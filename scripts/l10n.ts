// The l10n bundle of the extension's messages: every string literal passed to vscode.l10n.t (or
// `t`, its alias) in src/extension, as l10n/bundle.l10n.json, the file translators copy to
// bundle.l10n.<locale>.json. `npm run l10n`; a test fails when the bundle is out of date.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const root = path.join(__dirname, '..');
export const bundlePath = path.join(root, 'l10n', 'bundle.l10n.json');

function isL10nCall(callee: ts.Expression): boolean {
  if (ts.isIdentifier(callee)) return callee.text === 't';
  return ts.isPropertyAccessExpression(callee) && callee.getText() === 'vscode.l10n.t';
}

/** The messages of the files that use vscode.l10n, sorted, each once. */
export function l10nMessages(dir = path.join(root, 'src', 'extension')): string[] {
  const found = new Set<string>();
  const walk = (d: string): string[] =>
    fs
      .readdirSync(d, { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory() ? walk(path.join(d, e.name)) : e.name.endsWith('.ts') ? [path.join(d, e.name)] : [],
      );
  for (const file of walk(dir)) {
    const text = fs.readFileSync(file, 'utf8');
    if (!text.includes('vscode.l10n.t')) continue;
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isCallExpression(node) && isL10nCall(node.expression)) {
        const first = node.arguments[0];
        if (first && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) found.add(first.text);
        else if (first) {
          const { line } = source.getLineAndCharacterOfPosition(first.getStart());
          throw new Error(`${file}:${line + 1}: vscode.l10n.t needs a string literal (a message translators can see)`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return [...found].sort();
}

export function bundleText(): string {
  return `${JSON.stringify(Object.fromEntries(l10nMessages().map((m) => [m, m])), null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  fs.writeFileSync(bundlePath, bundleText());
  console.log(`l10n: ${l10nMessages().length} messages in ${path.relative(root, bundlePath)}`);
}
