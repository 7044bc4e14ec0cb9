/**
 * Worker scripts must be compiled JavaScript: from dist/ they sit beside the
 * caller; from src/ (vitest) the caller is TypeScript, so use the dist/ copy,
 * which `npx tsc -p tsconfig.json` must have built.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PerflabError } from '../../errors.js';
import { packageRoot } from '../../paths.js';

/** The URL of dist/families/js/<name> (a compiled worker script). */
export function jsFamilyScript(name: string): URL {
  if (fileURLToPath(import.meta.url).endsWith('.js')) return new URL(`./${name}`, import.meta.url);
  const dist = join(packageRoot(), 'dist', 'families', 'js', name);
  if (!existsSync(dist)) {
    throw new PerflabError('ERR_PERFLAB_NOT_BUILT', `the js family runs ${name} from ${dist}, which does not exist. Run: npx tsc -p tsconfig.json`);
  }
  return pathToFileURL(dist);
}
