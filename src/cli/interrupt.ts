/**
 * What runs on Ctrl-C or a kill before perflab exits: hooks a command registers
 * (the optimize command marks its experiment resumable and prints what it has),
 * run synchronously in registration order by the CLI's signal handler.
 */
const hooks = new Set<(signal: NodeJS.Signals) => void>();

export function onInterrupt(hook: (signal: NodeJS.Signals) => void): () => void {
  hooks.add(hook);
  return () => hooks.delete(hook);
}

export function runInterruptHooks(signal: NodeJS.Signals): void {
  for (const h of [...hooks]) {
    try {
      h(signal);
    } catch (err) {
      process.stderr.write(`perflab: while stopping: ${(err as Error).message}\n`);
    }
  }
  hooks.clear();
}
