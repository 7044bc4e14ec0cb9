/** The proposers behind one interface, and the choice of one from the command line. */
import { PerflabError, UsageError } from '../../errors.js';
import type { Experiments } from '../../store/experiments.js';
import { PROPOSERS, type Proposer, type ProposerName } from '../types.js';
import { ReplayProposer } from './replay.js';
import { TunerProposer } from './tuner.js';

export { ReplayProposer, TunerProposer };

export interface ProposerChoice {
  proposer?: string;
  model?: string;
  baseUrl?: string;
  replay?: string;
}

/** INTERFACES.md: anthropic when ANTHROPIC_API_KEY is set, else the tuner (so optimize works on any machine). */
export function defaultProposer(): ProposerName {
  return process.env.ANTHROPIC_API_KEY ? 'anthropic' : 'tuner';
}

/**
 * The proposer the command line asks for. The model-backed ones are loaded
 * only when chosen: the SDK alone costs every perflab command a fifth of a
 * second at start-up otherwise.
 */
export async function makeProposer(choice: ProposerChoice, experiments: Experiments): Promise<Proposer> {
  const name = (choice.proposer ?? (choice.replay ? 'replay' : defaultProposer())) as ProposerName;
  if (!PROPOSERS.includes(name)) throw new UsageError(`--proposer must be one of ${PROPOSERS.join(', ')}, not "${choice.proposer}"`);
  if (choice.replay && name !== 'replay') throw new UsageError('--replay ID goes with --proposer replay');
  if (choice.baseUrl && name !== 'openai-compatible') throw new UsageError('--base-url is for --proposer openai-compatible (the anthropic proposer reads ANTHROPIC_BASE_URL, as the SDK does)');
  switch (name) {
    case 'anthropic':
      if (!process.env.ANTHROPIC_API_KEY && !process.env.ANTHROPIC_AUTH_TOKEN) {
        throw new PerflabError('ERR_PERFLAB_ENVIRONMENT', 'the anthropic proposer needs ANTHROPIC_API_KEY in the environment; without a key, use --proposer tuner (knob search, no LLM) or --proposer openai-compatible --base-url URL (a local model server)');
      }
      return new (await import('./anthropic.js')).AnthropicProposer({ model: choice.model });
    case 'openai-compatible':
      if (!choice.baseUrl) throw new UsageError('--proposer openai-compatible needs --base-url URL (e.g. http://127.0.0.1:8080/v1 for llama.cpp, http://127.0.0.1:11434/v1 for Ollama)');
      try {
        const u = new URL(choice.baseUrl);
        if (!/^https?:$/.test(u.protocol)) throw new Error('not http');
      } catch {
        throw new UsageError(`--base-url must be an http(s) URL, not "${choice.baseUrl}"`);
      }
      return new (await import('./openai-compatible.js')).OpenAICompatibleProposer({ baseUrl: choice.baseUrl, model: choice.model });
    case 'replay':
      if (!choice.replay) throw new UsageError('--proposer replay needs --replay ID (the experiment whose recorded answers to replay)');
      if (!experiments.get(choice.replay)) throw new UsageError(`no experiment "${choice.replay}" to replay in this store`);
      return new ReplayProposer(experiments, choice.replay);
    case 'tuner':
      if (choice.model) throw new UsageError('--model is for the LLM proposers; the tuner uses none');
      return new TunerProposer();
  }
}
