/**
 * The answer schema every LLM proposer asks for: `{ analysis, optimizations,
 * implementation }` (types.ts `AgentAnswer`), as a zod schema, as the JSON
 * Schema sent to the model, and as one validator that names the path of the
 * first violation.
 *
 * The wire form differs from `AgentAnswer` in two ways, both for strict
 * structured output (constrained decoding accepts only objects with
 * `additionalProperties: false`, every property listed in `required`, and no
 * string-length or pattern keywords):
 * - `implementation.files`, `.edits` and `.knobs` are always present and may be
 *   empty arrays (an empty array stands for "not given");
 * - `knobs` is an array of `{ name, value }` pairs, not a record.
 * Length, pattern and "at least one change" rules are checked here, after
 * decoding, with the same precise reasons.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AgentAnswer, AgentTask } from './types.js';

/** The tool the anthropic proposer offers in `tool` mode; its input is the answer. */
export const SUBMIT_TOOL = 'submit_variant';

/** What the tool (and the JSON output format) is for, as the model reads it. */
export const SUBMIT_TOOL_DESCRIPTION =
  'Submit one candidate variant: your analysis of the parent, the optimizations you applied, and the ' +
  'implementation (a whole file, search/replace edits to the parent source, and/or knob values). ' +
  'Leave an implementation list empty when you do not use it.';

/** Tasks whose answer must change something (files, edits or knobs). */
export const TASKS_NEEDING_CODE: readonly AgentTask[] = ['optimize', 'lock-free'];

const text = (description: string) => z.string().describe(description);

/** The wire form of an answer (what the model emits). */
export const wireAnswerSchema = z.object({
  analysis: z
    .object({
      summary: text('What limits the parent now, in a few sentences, citing the measured numbers.'),
      bottlenecks: z.array(text('One bottleneck, specific (cache line, fence, syscall, branch).')),
    })
    .describe('Diagnosis of the parent variant.'),
  optimizations: z
    .array(
      z.object({
        title: text('Short name of the change.'),
        rationale: text('Why it should help on this machine, given the measurements.'),
        expected_gain: text('Expected effect on the target metric, e.g. "1.3x items/s".'),
        risk: text('What could break (ordering, ABA, capacity edge) and how the code avoids it.'),
      }),
    )
    .min(1)
    .describe('The optimizations this candidate applies, most important first.'),
  implementation: z
    .object({
      files: z
        .array(
          z.object({
            path: text('File name, e.g. "variant.c" or "variant.cc" (relative, no "..").'),
            content: text('The complete file content.'),
          }),
        )
        .describe('Whole files; for a queue variant exactly one .c or .cc file. Empty when using edits.'),
      edits: z
        .array(
          z.object({
            search: text('Exact text that occurs exactly once in the parent source.'),
            replace: text('Its replacement.'),
          }),
        )
        .describe('Search/replace edits applied in order to the parent source. Empty when giving files.'),
      knobs: z
        .array(
          z.object({
            name: text('A knob the source declares with perflab:knob.'),
            value: text('One of the values the knob declares.'),
          }),
        )
        .describe('Knob settings. Empty to keep the defaults.'),
    })
    .describe('The candidate: files, edits and/or knobs.'),
});

export type WireAnswer = z.infer<typeof wireAnswerSchema>;

let schemaText: string | undefined;

function schemaJsonText(): string {
  if (schemaText === undefined) {
    const generated = z.toJSONSchema(wireAnswerSchema, { target: 'draft-2020-12' }) as Record<string, unknown>;
    // `$schema` names the dialect and constrains nothing; strict tool input schemas do not need it.
    delete generated['$schema'];
    schemaText = JSON.stringify(generated);
  }
  return schemaText;
}

/**
 * The JSON Schema of the answer's wire form, for a strict tool's `input_schema`,
 * the Messages API's `output_config.format`, or an OpenAI-style `response_format`.
 * A fresh object on every call (callers may not share and mutate it).
 */
export function answerJsonSchema(): Record<string, unknown> {
  return JSON.parse(schemaJsonText()) as Record<string, unknown>;
}

/**
 * sha256 (first 16 hex) of the system prefix, the user message and the schema:
 * the identity of a request, so a replay can tell where it diverges.
 */
export function requestHash(system: string, user: string): string {
  return createHash('sha256').update(`${system}\0${user}\0${schemaJsonText()}`).digest('hex').slice(0, 16);
}

export type ParseAnswerResult = { ok: true; answer: AgentAnswer } | { ok: false; reason: string };

export interface ParseAnswerOptions {
  /**
   * The task the answer is for: `optimize` and `lock-free` answers must change
   * something (a file, an edit or a knob). Default: `optimize`.
   */
  task?: AgentTask;
}

const KNOB_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const KNOB_VALUE = /^[A-Za-z0-9_.:+-]+$/;

/**
 * Validates a decoded answer (the tool input or the structured JSON output; a
 * string is parsed as JSON first). Accepts the wire form and also the
 * `AgentAnswer` form (knobs as a record, empty lists omitted), so a stored
 * answer of either shape replays. The reason names the path of the first
 * violation, e.g. `implementation.files[0].path: ...`.
 */
export function parseAnswer(json: unknown, options: ParseAnswerOptions = {}): ParseAnswerResult {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch (err) {
      return { ok: false, reason: `(root): not JSON: ${(err as Error).message}` };
    }
  }
  const parsed = wireAnswerSchema.safeParse(normalize(value));
  if (!parsed.success) {
    const [first, ...rest] = parsed.error.issues;
    const more = rest.length > 0 ? ` (+${rest.length} more)` : '';
    return { ok: false, reason: first ? `${formatPath(first.path)}: ${first.message}${more}` : 'invalid answer' };
  }
  const problem = semanticProblem(parsed.data, options.task ?? 'optimize');
  if (problem !== null) return { ok: false, reason: problem };
  return { ok: true, answer: toAgentAnswer(parsed.data) };
}

/** The wire form of an `AgentAnswer` (what `response` records for a replay). */
export function toWireAnswer(answer: AgentAnswer): WireAnswer {
  const impl = answer.implementation;
  return {
    analysis: answer.analysis,
    optimizations: answer.optimizations,
    implementation: {
      files: impl.files ?? [],
      edits: impl.edits ?? [],
      knobs: Object.entries(impl.knobs ?? {}).map(([name, value]) => ({ name, value })),
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Maps the AgentAnswer form onto the wire form; anything else passes through to be reported. */
function normalize(value: unknown): unknown {
  if (!isRecord(value) || !isRecord(value['implementation'])) return value;
  const impl = { ...value['implementation'] };
  if (impl['files'] === undefined) impl['files'] = [];
  if (impl['edits'] === undefined) impl['edits'] = [];
  const knobs = impl['knobs'];
  if (knobs === undefined) impl['knobs'] = [];
  else if (isRecord(knobs)) impl['knobs'] = Object.entries(knobs).map(([name, v]) => ({ name, value: v }));
  return { ...value, implementation: impl };
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(root)' : out;
}

function blank(s: string): boolean {
  return s.trim() === '';
}

function semanticProblem(a: WireAnswer, task: AgentTask): string | null {
  if (blank(a.analysis.summary)) return 'analysis.summary: empty';
  for (const [i, o] of a.optimizations.entries()) {
    if (blank(o.title)) return `optimizations[${i}].title: empty`;
  }
  const impl = a.implementation;
  const paths = new Set<string>();
  for (const [i, f] of impl.files.entries()) {
    const where = `implementation.files[${i}]`;
    if (blank(f.path)) return `${where}.path: empty`;
    if (f.path.startsWith('/') || f.path.includes('\\') || f.path.split('/').includes('..')) {
      return `${where}.path: must be a relative path without "..": ${JSON.stringify(f.path.slice(0, 80))}`;
    }
    if (paths.has(f.path)) return `${where}.path: duplicate ${JSON.stringify(f.path)}`;
    paths.add(f.path);
    if (blank(f.content)) return `${where}.content: empty`;
  }
  for (const [i, e] of impl.edits.entries()) {
    if (e.search === '') return `implementation.edits[${i}].search: empty`;
  }
  const names = new Set<string>();
  for (const [i, k] of impl.knobs.entries()) {
    const where = `implementation.knobs[${i}]`;
    if (!KNOB_NAME.test(k.name)) return `${where}.name: not an identifier: ${JSON.stringify(k.name.slice(0, 80))}`;
    if (names.has(k.name)) return `${where}.name: duplicate ${JSON.stringify(k.name)}`;
    names.add(k.name);
    if (!KNOB_VALUE.test(k.value)) {
      return `${where}.value: must match ${KNOB_VALUE.source}: ${JSON.stringify(k.value.slice(0, 80))}`;
    }
  }
  if (TASKS_NEEDING_CODE.includes(task) && impl.files.length + impl.edits.length + impl.knobs.length === 0) {
    return 'implementation: no change: give files, edits or knobs';
  }
  return null;
}

function toAgentAnswer(a: WireAnswer): AgentAnswer {
  const impl: AgentAnswer['implementation'] = {};
  if (a.implementation.files.length > 0) impl.files = a.implementation.files;
  if (a.implementation.edits.length > 0) impl.edits = a.implementation.edits;
  if (a.implementation.knobs.length > 0) {
    impl.knobs = Object.fromEntries(a.implementation.knobs.map((k) => [k.name, k.value]));
  }
  return { analysis: a.analysis, optimizations: a.optimizations, implementation: impl };
}
