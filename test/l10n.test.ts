import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundlePath, bundleText, l10nMessages } from '../scripts/l10n.ts';
import { root } from './helpers/cli.ts';

const manifestText = fs.readFileSync(path.join(root, 'package.json'), 'utf8');
const manifest = JSON.parse(manifestText);
const nls: Record<string, string> = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.json'), 'utf8'));

test('the l10n bundle holds every message of the extension (npm run l10n)', () => {
  assert.equal(manifest.l10n, './l10n');
  assert.ok(l10nMessages().includes('New Distillation Project'));
  assert.equal(fs.readFileSync(bundlePath, 'utf8'), bundleText(), 'l10n/bundle.l10n.json is stale: run npm run l10n');
});

test('every %key% of package.json is in package.nls.json, and every key there is used', () => {
  const used = new Set([...manifestText.matchAll(/"%([^"%]+)%"/g)].map((m) => m[1]));
  for (const key of used) assert.ok(key in nls, `package.nls.json lacks "${key}"`);
  for (const key of Object.keys(nls))
    assert.ok(used.has(key), `package.nls.json has "${key}", which package.json does not use`);
  // The VSIX carries both (the allow-list in .vscodeignore).
  const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8');
  assert.match(ignore, /^!package\.nls\.json$/m);
  assert.match(ignore, /^!l10n\/\*\*$/m);
});

test('the walkthrough: each step has its media file, a command button and completes on a contributed command', () => {
  const commands = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
  const [walkthrough] = manifest.contributes.walkthroughs;
  const ids = walkthrough.steps.map((s: { id: string }) => s.id);
  assert.deepEqual(ids, ['backends', 'newProject', 'run', 'dashboard', 'compareExport']);
  for (const step of walkthrough.steps) {
    const media = path.join(root, step.media.image);
    assert.ok(fs.existsSync(media), `${step.id}: ${step.media.image} is missing`);
    assert.ok(fs.statSync(media).size < 200_000, `${step.id}: ${step.media.image} is over 200 kB`);
    const description = nls[step.description.replace(/%/g, '')];
    const links = [...description.matchAll(/\]\(command:([\w.]+)\)/g)].map((m) => m[1]);
    assert.ok(links.length > 0, `${step.id}: no command link`);
    for (const c of links) assert.ok(commands.has(c), `${step.id}: links ${c}, which is not contributed`);
    for (const e of step.completionEvents) {
      const [, command] = e.match(/^onCommand:(.+)$/) ?? [];
      assert.ok(commands.has(command), `${step.id}: completes on ${e}`);
      assert.ok(links.includes(command), `${step.id}: completes on ${command}, which its text does not offer`);
    }
  }
});
