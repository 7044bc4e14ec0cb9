/**
 * Per-call costs in their own process, for the harness:
 *   node dist/families/js/percall-child.js --time-ms N
 * prints exactly one JSON line on stdout: the array of PerCallResult rows.
 * Exit 0 on success, 1 when it could not run, 2 for bad arguments.
 */
import { measurePerCall } from './per-call.js';

function usage(message: string): never {
  process.stderr.write(`percall-child: ${message}\nusage: percall-child.js --time-ms N\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
let time: string | undefined;
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--time-ms') time = argv[++i];
  else usage(`unknown argument ${argv[i]}`);
}
const timeMs = Number(time ?? '300');
if (!Number.isFinite(timeMs) || timeMs <= 0 || timeMs > 600_000) usage(`--time-ms must be a number in (0, 600000], got '${time}'`);

try {
  const rows = await measurePerCall({ timeMs });
  process.stdout.write(JSON.stringify(rows) + '\n', () => process.exit(0));
} catch (err) {
  process.stderr.write(`percall-child: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
