/**
 * From an answer to a candidate: the one source file (whole, or the parent's
 * source with the answer's search/replace edits applied), its knob settings
 * (validated against what that source declares) and its identity, the content
 * hash that deduplicates candidates.
 */
import { variantHash } from '../store/store.js';
import { describeKnobs, parseKnobs, validateKnobs } from './knobs.js';
import type { AgentAnswer } from './types.js';

export interface ParentSource {
  source: string;
  language: 'c' | 'cc';
  knobs: Record<string, string>;
}

export type Materialized =
  | { ok: true; source: string; language: 'c' | 'cc'; knobs: Record<string, string>; hash: string; note: string }
  | { ok: false; reason: string; note: string };

/** A short description of an answer for the attempts table: its optimization titles, or its knobs. */
export function answerNote(answer: AgentAnswer): string {
  const titles = answer.optimizations.map((o) => o.title.trim()).filter(Boolean).join('; ');
  const knobs = answer.implementation.knobs && Object.keys(answer.implementation.knobs).length ? describeKnobs(answer.implementation.knobs) : '';
  const text = titles || knobs || answer.analysis.summary || '(no description)';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

const SOURCE_MAX = 256 * 1024;

export function materialize(answer: AgentAnswer, parent: ParentSource): Materialized {
  const note = answerNote(answer);
  const impl = answer.implementation;
  let source = parent.source;
  let language = parent.language;
  const files = impl.files ?? [];
  const edits = impl.edits ?? [];
  if (files.length > 0 && edits.length > 0) return { ok: false, note, reason: 'implementation gives both files and edits: give one file, or edits to the parent' };
  if (files.length > 1) return { ok: false, note, reason: `implementation gives ${files.length} files: a queue variant is exactly one .c or .cc file` };
  if (files.length === 1) {
    const f = files[0]!;
    const ext = /\.(c|cc|cpp|cxx)$/.exec(f.path)?.[1];
    if (!ext) return { ok: false, note, reason: `implementation.files[0].path "${f.path}" is not a .c or .cc file` };
    source = f.content;
    language = ext === 'c' ? 'c' : 'cc';
  }
  for (let i = 0; i < edits.length; i++) {
    const { search, replace } = edits[i]!;
    if (search.length === 0) return { ok: false, note, reason: `implementation.edits[${i}].search is empty` };
    const first = source.indexOf(search);
    if (first < 0) return { ok: false, note, reason: `implementation.edits[${i}].search does not occur in the parent's source (edits apply in order to the parent shown in the prompt)` };
    if (source.indexOf(search, first + 1) >= 0) return { ok: false, note, reason: `implementation.edits[${i}].search occurs more than once in the source: make it unique` };
    source = source.slice(0, first) + replace + source.slice(first + search.length);
  }
  if (source.trim().length === 0) return { ok: false, note, reason: 'the candidate source is empty' };
  if (Buffer.byteLength(source) > SOURCE_MAX) return { ok: false, note, reason: `the candidate source is over ${SOURCE_MAX / 1024} KiB` };
  let space;
  try {
    space = parseKnobs(source);
  } catch (err) {
    return { ok: false, note, reason: (err as Error).message };
  }
  // The parent's knob settings carry over where the new source still declares them; the answer's own are checked strictly.
  const inherited = Object.fromEntries(Object.entries(parent.knobs).filter(([k]) => space.some((s) => s.name === k)));
  const checked = validateKnobs(space, { ...inherited, ...(impl.knobs ?? {}) });
  if (!checked.ok) return { ok: false, note, reason: checked.reason };
  return { ok: true, source, language, knobs: checked.knobs, hash: variantHash(source, checked.knobs), note };
}
