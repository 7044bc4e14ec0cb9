/**
 * The lab's expert personas: plain-text files under `prompts/` (one per
 * persona), read as they are and identified by the hash of their bytes, so a
 * recorded call names exactly which persona text it was built from.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerflabError, UsageError } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { AgentTask } from './types.js';

export const PERSONAS = ['hpc-network-expert', 'systems-engineer'] as const;
export type PersonaName = (typeof PERSONAS)[number];

/** The line of a persona file that the rendered performance reference replaces. */
export const REFERENCE_PLACEHOLDER = '{{performance_reference}}';

/** A persona as read from its file. */
export interface Persona {
  name: string;
  /** The file's text, placeholder included (rendering happens in prompt.ts). */
  text: string;
  /** sha256 of the file's bytes, first 16 hex digits. */
  hash: string;
}

export function isPersonaName(name: string): name is PersonaName {
  return (PERSONAS as readonly string[]).includes(name);
}

/** Absolute path of a persona's file. */
export function personaPath(name: PersonaName): string {
  return join(packageRoot(), 'prompts', `${name}.md`);
}

/**
 * Reads `prompts/<name>.md` from the package root. An unknown name is a
 * UsageError that lists the known ones; a known persona whose file is missing
 * means a broken installation (ERR_PERFLAB_ENVIRONMENT).
 */
export function loadPersona(name: string): Persona {
  if (!isPersonaName(name)) throw new UsageError(`unknown persona "${name}": use one of ${PERSONAS.join(', ')}`);
  const path = personaPath(name);
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new PerflabError('ERR_PERFLAB_ENVIRONMENT', `cannot read the persona file ${path}: ${(err as Error).message} (reinstall perflab: prompts/ ships with the package)`, { cause: err });
  }
  return { name, text: bytes.toString('utf8'), hash: createHash('sha256').update(bytes).digest('hex').slice(0, 16) };
}

/**
 * The persona used when `--persona` is not given. Queue work (spsc, mpmc) is
 * memory layout and memory ordering first, so `optimize` and `profile` on a
 * queue family get the systems engineer; `lock-free` (design a new structure
 * from scratch, the seeds' hpc-network-expert task) and the network families
 * (server, transfer) get the networking expert.
 */
export function defaultPersona(task: AgentTask, family: string): PersonaName {
  if (task === 'lock-free') return 'hpc-network-expert';
  return family === 'spsc' || family === 'mpmc' ? 'systems-engineer' : 'hpc-network-expert';
}
