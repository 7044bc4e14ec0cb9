import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { QUEUE_FAMILIES, type QueueFamily } from '../families/queue.js';
import { defaultPersona, loadPersona, PERSONAS, personaPath } from '../agent/personas.js';
import { estimateTokens, systemPrefix } from '../agent/prompt.js';
import { renderPerformanceReference } from '../agent/reference.js';
import { envFingerprint } from '../pipeline/env.js';
import { renderTable } from '../report/table.js';
import { openStore, type Store } from '../store/index.js';
import { emit } from './output.js';

interface ShowFlags {
  persona?: string;
  family?: string;
  store?: string;
  date?: string;
  json?: boolean;
}

/** `perflab prompts show --json` */
export interface PromptShowDocument {
  schema_version: 1;
  persona: string;
  persona_hash: string;
  family: QueueFamily;
  system: string;
}

/** `perflab prompts list --json` */
export interface PromptListDocument {
  schema_version: 1;
  personas: { name: string; hash: string; path: string; default_for: string[] }[];
}

function parseFamily(family: string | undefined): QueueFamily {
  if (family === undefined) return 'spsc';
  if (!QUEUE_FAMILIES.includes(family as QueueFamily)) throw new UsageError(`--family must be ${QUEUE_FAMILIES.join(' or ')}, not "${family}"`);
  return family as QueueFamily;
}

function parseDate(date: string | undefined): Date {
  if (date === undefined) return new Date();
  const d = new Date(`${date}T00:00:00.000Z`);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date) || Number.isNaN(d.getTime())) throw new UsageError(`--date must be a date as YYYY-MM-DD, not "${date}"`);
  return d;
}

/** The store for the reference tables; one that cannot be opened leaves every row unmeasured (with a warning). */
function tryOpenStore(path: string | undefined): Store | null {
  try {
    return openStore(path);
  } catch (err) {
    process.stderr.write(`perflab: warning: no store for the performance reference (${(err as Error).message}); every row says not measured\n`);
    return null;
  }
}

/** Prints a persona's system prefix exactly as the model sees it. */
export function runPromptsShow(flags: ShowFlags): number {
  const family = parseFamily(flags.family);
  const persona = loadPersona(flags.persona ?? defaultPersona('optimize', family));
  const date = parseDate(flags.date);
  const store = tryOpenStore(flags.store);
  let system: string;
  try {
    system = systemPrefix(persona, renderPerformanceReference(persona.name, store, envFingerprint(), date), family);
  } finally {
    store?.close();
  }
  const doc: PromptShowDocument = { schema_version: 1, persona: persona.name, persona_hash: persona.hash, family, system };
  if (flags.json) {
    emit(true, doc, () => system);
  } else {
    process.stderr.write(`perflab: persona ${persona.name} (${persona.hash}), family ${family}: ${system.length} chars, about ${estimateTokens(system)} tokens\n`);
    process.stdout.write(system); // exactly the prefix, byte for byte (it ends with a newline)
  }
  return 0;
}

/** Lists the personas with their hashes and the tasks they are the default for. */
export function runPromptsList(flags: { json?: boolean }): number {
  const defaults = (name: string) => {
    const out: string[] = [];
    for (const task of ['optimize', 'lock-free', 'profile'] as const) {
      for (const family of QUEUE_FAMILIES) if (defaultPersona(task, family) === name) out.push(`${task} ${family}`);
    }
    return out;
  };
  const doc: PromptListDocument = {
    schema_version: 1,
    personas: PERSONAS.map((name) => {
      const p = loadPersona(name);
      return { name, hash: p.hash, path: personaPath(name), default_for: defaults(name) };
    }),
  };
  emit(flags.json === true, doc, () =>
    renderTable(['persona', 'hash', 'default for', 'file'], doc.personas.map((p) => [p.name, p.hash, p.default_for.join(', ') || '-', p.path])),
  );
  return 0;
}

/** Registers `perflab prompts show` and `perflab prompts list`. */
export function registerPrompts(program: Command): void {
  const prompts = program.command('prompts').description('the expert personas, as the model sees them');
  prompts
    .command('show')
    .description('print the system prefix of a persona exactly as the model sees it, its performance reference rendered from the store')
    .option('--persona <name>', `${PERSONAS.join(' or ')} (default: the persona optimize uses for the family)`)
    .option('--family <family>', `${QUEUE_FAMILIES.join(' or ')} (default spsc)`)
    .option('--store <path>', 'the store the reference is rendered from (default: $PERFLAB_STORE, else ./.perflab/perflab.db)')
    .option('--date <YYYY-MM-DD>', 'the render date printed in the reference (default: today)')
    .option('--json', 'print one JSON document on stdout')
    .action((flags: ShowFlags) => {
      process.exitCode = runPromptsShow(flags);
    });
  prompts
    .command('list')
    .description('list the personas, their hashes and the tasks they are the default for')
    .option('--json', 'print one JSON document on stdout')
    .action((flags: { json?: boolean }) => {
      process.exitCode = runPromptsList(flags);
    });
}
