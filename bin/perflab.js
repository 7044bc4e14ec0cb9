#!/usr/bin/env node
// The perflab CLI. The TypeScript is compiled to dist/ by `bash scripts/setup.sh` (or `npm run build:ts`).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('perflab: not built yet (no dist/). Run: bash scripts/setup.sh\n');
  process.exit(3);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
