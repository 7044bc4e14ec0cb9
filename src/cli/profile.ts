/** `perflab agent profile --variant V`: profile data plus the persona's analysis. */
import type { Command } from 'commander';
import type { ProfileTaskReport } from '../agent/profile-task.js';
import { acquireMeasureLock } from '../pipeline/lock.js';
import { stderrProgress } from '../report/progress.js';
import { Experiments, openStore } from '../store/index.js';
import { parseFamily } from './check.js';
import { emit } from './output.js';
import { UsageError } from '../errors.js';

function render(r: ProfileTaskReport): string {
  const lines = [`perflab agent profile ${r.family} ${r.variant} (${r.hash})`];
  const p = r.profile;
  if (p.unavailable) lines.push(`profile: unavailable: ${p.unavailable}`);
  else {
    lines.push(`instructions per push+pop: ${p.instructions_per_op?.toFixed(2)} (callgrind, the measured loop only)`);
    for (const h of p.hot) lines.push(`  ${h.pct.toFixed(1).padStart(5)}%  ${String(h.ir).padStart(10)} Ir  ${h.fn}`);
  }
  if (r.answer) {
    lines.push('', `${r.persona}: ${r.answer.analysis.summary}`);
    for (const b of r.answer.analysis.bottlenecks) lines.push(`  bottleneck: ${b}`);
    for (const o of r.answer.optimizations) lines.push(`  - ${o.title}: ${o.rationale} (expected: ${o.expected_gain}; risk: ${o.risk})`);
  }
  if (r.call) lines.push(`call: ${r.call.provider} ${r.call.model ?? ''} ${r.call.outcome}, ${r.call.input_tokens}+${r.call.output_tokens} tokens${r.call.usd !== null ? `, $${r.call.usd.toFixed(4)}` : ''}`);
  if (r.note) lines.push(`note: ${r.note}`);
  return lines.join('\n');
}

export function registerProfileTask(agent: Command): void {
  agent
    .command('profile')
    .description("a variant's profile (instructions per op, hot functions) and the persona's analysis of it")
    .requiredOption('--variant <v>', 'a built-in name, a stored name or hash, or a .c/.cc path')
    .option('--family <family>', 'spsc or mpmc')
    .option('--proposer <name>', 'anthropic | openai-compatible | tuner (tuner: the profile alone)')
    .option('--persona <name>', 'hpc-network-expert or systems-engineer')
    .option('--model <id>', 'model for the LLM proposers')
    .option('--base-url <url>', 'the openai-compatible server')
    .option('--no-sandbox', 'run the variant without the sandbox (trusted code only)')
    .option('--store <path>', 'the store (default ./.perflab/perflab.db or PERFLAB_STORE)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (flags: { variant: string; family?: string; proposer?: string; persona?: string; model?: string; baseUrl?: string; sandbox?: boolean; store?: string; json?: boolean }) => {
      const family = parseFamily(flags.family);
      const progress = stderrProgress();
      using store = openStore(flags.store);
      if (flags.proposer === 'replay') throw new UsageError('agent profile asks a model once; replay is for optimize experiments (perflab optimize --proposer replay --replay ID)');
      const { makeProposer } = await import('../agent/proposers/index.js');
      const { runProfileTask } = await import('../agent/profile-task.js');
      const proposer = await makeProposer({ proposer: flags.proposer, model: flags.model, baseUrl: flags.baseUrl }, new Experiments(store));
      const lock = await acquireMeasureLock(`perflab agent profile (pid ${process.pid})`, (m) => progress.log(`perflab: ${m}`));
      let report: ProfileTaskReport;
      try {
        report = await runProfileTask({ store, family, variant: flags.variant, proposer, persona: flags.persona, sandbox: flags.sandbox !== false, log: (l) => progress.log(l) });
      } finally {
        lock.release();
      }
      emit(flags.json === true, report, () => render(report));
      process.exitCode = 0;
    });
}
