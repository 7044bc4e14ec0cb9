/**
 * Knobs a variant declares (INTERFACES.md): `/* perflab:knob NAME=v1|v2|v3 *\/`
 * comments, each becoming -DNAME=value for the tuner. The first value is the
 * default: the build without -D must behave as if it had been given.
 */
import { UsageError } from '../errors.js';
import type { KnobSpec } from './types.js';

const KNOB = /\/\*\s*perflab:knob\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^*]*?)\s*\*\//g;
/** A knob value is one preprocessor token: a number or an identifier, or a -flag-free word. */
const VALUE = /^[A-Za-z0-9_.+-]{1,64}$/;

/** The knobs a source declares, in declaration order; a malformed declaration is a UsageError. */
export function parseKnobs(source: string): KnobSpec[] {
  const knobs: KnobSpec[] = [];
  for (const m of source.matchAll(KNOB)) {
    const name = m[1]!;
    const values = m[2]!.split('|').map((v) => v.trim());
    if (values.length < 2 || values.some((v) => !VALUE.test(v))) {
      throw new UsageError(`knob ${name}: declare two or more values as NAME=v1|v2 (each a number or identifier), not "${m[2]}"`);
    }
    if (new Set(values).size !== values.length) throw new UsageError(`knob ${name} lists a value twice: "${m[2]}"`);
    if (knobs.some((k) => k.name === name)) throw new UsageError(`knob ${name} is declared twice`);
    knobs.push({ name, values });
  }
  return knobs;
}

/**
 * Checks knob settings against what the source declares: unknown names and
 * values outside the declared ones are refused. Returns the settings with
 * defaults dropped (a default is the same build as no -D at all, so it must
 * not make a different hash).
 */
export function validateKnobs(space: KnobSpec[], knobs: Record<string, string>): { ok: true; knobs: Record<string, string> } | { ok: false; reason: string } {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(knobs)) {
    const spec = space.find((k) => k.name === name);
    if (!spec) return { ok: false, reason: `knob ${name} is not declared by the source (declared: ${space.map((k) => k.name).join(', ') || 'none'})` };
    if (!spec.values.includes(String(value))) return { ok: false, reason: `knob ${name}=${value} is not one of its declared values ${spec.values.join('|')}` };
    if (String(value) !== spec.values[0]) out[name] = String(value);
  }
  return { ok: true, knobs: sortKnobs(out) };
}

/** Knob settings with sorted keys (stable JSON and hashes). */
export function sortKnobs(knobs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(knobs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** `NAME=v NAME2=v2`, or `defaults`. */
export function describeKnobs(knobs: Record<string, string>): string {
  const e = Object.entries(sortKnobs(knobs));
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(' ') : 'defaults';
}
