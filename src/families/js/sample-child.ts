/**
 * One cross-worker sample in its own process, for the harness:
 *   node dist/families/js/sample-child.js --scenario S --duration-ms N
 * prints exactly one JSON line (a CrossWorkerSample plus schema_version) on
 * stdout. Exit 0 when the sample ran (even if invalid: `valid` says so), 1
 * when it could not run, 2 for bad arguments.
 */
import { runCrossWorkerSample } from './cross-worker.js';
import { CROSS_WORKER_SCENARIOS, isCrossWorkerScenario } from './scenarios.js';

function usage(message: string): never {
  process.stderr.write(`sample-child: ${message}\nusage: sample-child.js --scenario ${CROSS_WORKER_SCENARIOS.join('|')} --duration-ms N\n`);
  process.exit(2);
}

function parse(argv: string[]): { scenario: (typeof CROSS_WORKER_SCENARIOS)[number]; durationMs: number } {
  let scenario: string | undefined;
  let duration: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--scenario') scenario = argv[++i];
    else if (arg === '--duration-ms') duration = argv[++i];
    else usage(`unknown argument ${arg}`);
  }
  if (scenario === undefined) usage('--scenario is required');
  if (!isCrossWorkerScenario(scenario)) usage(`unknown scenario '${scenario}'`);
  const durationMs = Number(duration ?? '1000');
  if (!Number.isFinite(durationMs) || durationMs <= 0 || durationMs > 600_000) usage(`--duration-ms must be a number in (0, 600000], got '${duration}'`);
  return { scenario, durationMs };
}

const { scenario, durationMs } = parse(process.argv.slice(2));
try {
  const sample = await runCrossWorkerSample(scenario, { durationMs });
  process.stdout.write(JSON.stringify({ schema_version: 1, ...sample }) + '\n', () => process.exit(0));
} catch (err) {
  process.stderr.write(`sample-child: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
}
