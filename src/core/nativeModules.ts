/**
 * The native tensorflow backend (@tensorflow/tfjs-node, or its GPU build) from a folder of its
 * own: the extension installs it into its global storage (`<storage>/native/node_modules`) and
 * passes that folder to every trainer it spawns as DISTILL_NATIVE_DIR; the CLI can be pointed at
 * one the same way (`scripts/setup-native-tfjs.sh --prefix DIR`).
 *
 * tfjs-node requires `@tensorflow/tfjs` and `@tensorflow/tfjs-core`. If those resolved to copies in
 * that folder, the backend would register kernels and tensors of a second tfjs-core beside the
 * trainer's (their Tensor classes differ, so the trainer's tensors are foreign to it). So every
 * `@tensorflow/tfjs*` request made from inside that folder, other than the native packages
 * themselves, is resolved to the trainer's own copy; the setup also deletes the folder's copies
 * (pruneNativeDir), which nothing then loads.
 */
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';

export type NativePackage = '@tensorflow/tfjs-node' | '@tensorflow/tfjs-node-gpu';
export const NATIVE_PACKAGES: readonly NativePackage[] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
/** The environment variable that names the folder whose node_modules holds the native package. */
export const NATIVE_DIR_ENV = 'DISTILL_NATIVE_DIR';

/** A tfjs package the trainer must share with the native backend: `@tensorflow/tfjs`, `-core`, `-layers`, ..., with any subpath. */
const SHARED = /^@tensorflow\/(tfjs(?:-[a-z0-9-]+)?)(?:\/.*)?$/;
const isNative = (name: string) => name === 'tfjs-node' || name === 'tfjs-node-gpu';

/** The node_modules folders (real paths) whose tfjs requests go to the trainer's copies. */
const redirected = new Set<string>();
let hooked = false;

type ResolveFilename = (
  request: string,
  parent: { filename?: string | null } | undefined,
  isMain: boolean,
  options?: unknown,
) => string;

function installRedirect(nodeModules: string): void {
  redirected.add(nodeModules);
  if (hooked) return;
  hooked = true;
  const M = Module as unknown as { _resolveFilename: ResolveFilename };
  const original = M._resolveFilename;
  M._resolveFilename = function (request, parent, isMain, options) {
    const m = SHARED.exec(request);
    const from = parent?.filename;
    if (m && !isNative(m[1]) && from && [...redirected].some((dir) => from.startsWith(dir + path.sep))) {
      try {
        // Resolved from this module, i.e. from the trainer's node_modules.
        return require.resolve(request);
      } catch {
        // The trainer has no such package: the folder's own copy, if any.
      }
    }
    return original.call(this, request, parent, isMain, options);
  };
}

/** The folder named by DISTILL_NATIVE_DIR, absolute; undefined when unset or empty. */
export function nativeDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env[NATIVE_DIR_ENV]?.trim();
  return dir ? path.resolve(dir) : undefined;
}

/** Where `pkg` is inside a native folder (whether or not it is there). */
export function nativePackageDir(dir: string, pkg: NativePackage): string {
  return path.join(dir, 'node_modules', ...pkg.split('/'));
}

/**
 * Loads `pkg`: from DISTILL_NATIVE_DIR's node_modules when that is set and holds it, else the
 * normal way (which throws Node's MODULE_NOT_FOUND for `pkg` when it is absent). Either way it
 * registers the `tensorflow` backend on the trainer's own @tensorflow/tfjs-core.
 */
export function requireTensorflowPackage(pkg: NativePackage): unknown {
  const dir = nativeDir();
  if (dir) {
    const pkgDir = nativePackageDir(dir, pkg);
    if (fs.existsSync(path.join(pkgDir, 'package.json'))) {
      installRedirect(fs.realpathSync(path.join(dir, 'node_modules')));
      return require(pkgDir);
    }
  }
  return require(pkg);
}

/**
 * Deletes the folder's own @tensorflow/tfjs* packages other than the native ones (npm installs
 * them as tfjs-node's dependencies; the trainer's copies are used instead). Returns what it removed.
 */
export function pruneNativeDir(dir: string): string[] {
  const scope = path.join(dir, 'node_modules', '@tensorflow');
  if (!fs.existsSync(scope)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(scope)) {
    if (isNative(name) || !SHARED.test(`@tensorflow/${name}`)) continue;
    fs.rmSync(path.join(scope, name), { recursive: true, force: true });
    removed.push(`@tensorflow/${name}`);
  }
  return removed;
}
