/** Native folders for tests: a DISTILL_NATIVE_DIR laid out as the extension's setup leaves it. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { root } from './cli.ts';

/** Node's resolution of `name` from the package folder `from` (node_modules/<name> here, then in each folder above). */
function resolveFrom(name: string, from: string): string | undefined {
  for (let dir = from; ;) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    const i = dir.lastIndexOf(`${path.sep}node_modules${path.sep}`);
    if (i < 0) return undefined;
    dir = dir.slice(0, i);
  }
}

/**
 * Copies this checkout's @tensorflow/tfjs-node (built by scripts/setup-native-tfjs.sh) and its
 * dependencies into `<dir>/node_modules`, leaving out the @tensorflow/tfjs* packages the trainer
 * shares (as pruneNativeDir does). Returns the folder.
 */
export function copyNativeInstall(dir: string): string {
  const seen = new Set<string>();
  const queue: Array<[string, string]> = [['@tensorflow/tfjs-node', root]];
  while (queue.length) {
    const [name, from] = queue.shift()!;
    if (name !== '@tensorflow/tfjs-node' && /^@tensorflow\/tfjs/.test(name)) continue;
    const found = resolveFrom(name, from);
    if (!found || seen.has(found)) continue;
    seen.add(found);
    const pkg = JSON.parse(fs.readFileSync(path.join(found, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies ?? {})) queue.push([dep, found]);
  }
  for (const found of seen)
    fs.cpSync(found, path.join(dir, path.relative(root, found)), { recursive: true, verbatimSymlinks: true });
  return dir;
}

/** A package that throws when loaded: stands for a second copy that must never be used. */
export function writeDecoy(dir: string, name: string): void {
  const pkg = path.join(dir, 'node_modules', ...name.split('/'));
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name, version: '4.22.0', main: 'index.js' }));
  fs.writeFileSync(path.join(pkg, 'index.js'), `throw new Error('the native folder\\'s own ${name} was loaded');\n`);
}
