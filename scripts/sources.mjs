#!/usr/bin/env node
// Prints one list of native/sources.json, space separated, for binding.gyp's
// command expansion: `node scripts/sources.mjs addon shm probe`.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = JSON.parse(readFileSync(join(root, 'native/sources.json'), 'utf8'));
const out = [];
for (const key of process.argv.slice(2)) {
  const list = sources[key];
  if (!Array.isArray(list)) {
    process.stderr.write(`scripts/sources.mjs: no list named ${key} in native/sources.json\n`);
    process.exit(2);
  }
  out.push(...list);
}
process.stdout.write(out.join(' ') + '\n');
