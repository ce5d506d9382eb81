/** Locations of the files that ship with Distill Studio (demo data, demo teacher, schema). */
import * as fs from 'node:fs';
import * as path from 'node:path';

let root: string | undefined;

/** The package root: the nearest folder above this module with our package.json (works from src/ and dist/). */
export function packageRoot(): string {
  if (root) return root;
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (
      fs.existsSync(manifest) &&
      (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === 'distill-studio'
    )
      return (root = dir);
    if (path.dirname(dir) === dir) throw new Error(`cannot find the distill-studio package folder above ${__dirname}`);
  }
}

export const demoDataDir = () => path.join(packageRoot(), 'media', 'demo', 'data');
export const demoTeacherPath = () => path.join(packageRoot(), 'media', 'demo', 'teacher', 'model.json');
export const schemaPath = () => path.join(packageRoot(), 'media', 'distill.schema.json');
