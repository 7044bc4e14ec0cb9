/** Option parsing shared by the commands: precise usage errors (exit 2). */
import { UsageError } from '../errors.js';

/** An integer option within [lo, hi], or `fallback` when absent. */
export function intOption(name: string, value: string | undefined, lo: number, hi: number, fallback: number): number;
export function intOption(name: string, value: string | undefined, lo: number, hi: number, fallback?: undefined): number | undefined;
export function intOption(name: string, value: string | undefined, lo: number, hi: number, fallback?: number): number | undefined {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < lo || n > hi) throw new UsageError(`--${name} must be an integer from ${lo} to ${hi}, not "${value}"`);
  return n;
}

/** A positive number option (e.g. dollars, minutes), or undefined when absent. */
export function positiveOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || !Number.isFinite(n)) throw new UsageError(`--${name} must be a positive number, not "${value}"`);
  return n;
}
