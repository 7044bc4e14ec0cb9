import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { PerflabError } from '../errors.js';
import { killActiveRunners } from '../native/runner.js';
import { packageRoot } from '../paths.js';
import { registerBench } from './bench.js';
import { registerCheck } from './check.js';
import { registerCompare } from './compare.js';
import { registerDoctor } from './doctor.js';
import { runInterruptHooks } from './interrupt.js';
import { registerAgent, registerOptimize } from './optimize.js';
import { registerPrompts } from './prompts.js';
import { registerVariants } from './variants.js';

/** The `perflab` command line; returns the process exit code (INTERFACES.md). */
export async function main(argv: string[]): Promise<number> {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  const program = new Command('perflab')
    .description('a native-addon performance lab: lock-free queues, event loops and zero-copy paths, measured honestly')
    .version(version)
    .exitOverride()
    .showHelpAfterError('(run perflab --help for the commands)');
  registerBench(program);
  registerCheck(program);
  registerCompare(program);
  registerVariants(program);
  registerOptimize(program);
  registerAgent(program);
  registerPrompts(program);
  registerDoctor(program);
  // Ctrl-C or a kill: end the runners we started (they run in their own process
  // groups), then exit; the measurement lock is released by its exit handler.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killActiveRunners();
      runInterruptHooks(sig);
      process.stderr.write(`\nperflab: interrupted (${sig}); nothing was printed for unfinished work\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    process.exitCode = 0;
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; bad usage with 2.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof PerflabError) {
      process.stderr.write(`perflab: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`perflab: internal error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
