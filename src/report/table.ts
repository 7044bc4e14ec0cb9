import pc from 'picocolors';
import type { BenchDocument, BenchResult } from '../pipeline/bench-types.js';

/** A value with its unit, scaled for reading (items/s in M/s, times in ns/µs). */
export function formatValue(v: number, unit: string): string {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'items/s') {
    if (v >= 1e9) return `${(v / 1e9).toFixed(2)} G/s`;
    if (v >= 1e6) return `${(v / 1e6).toFixed(1)} M/s`;
    if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k/s`;
    return `${v.toFixed(0)} /s`;
  }
  if (unit === 'ns') return v >= 1e4 ? `${(v / 1e3).toFixed(1)} µs` : `${v.toFixed(v < 100 ? 1 : 0)} ns`;
  if (unit === 'instructions') return `${v.toFixed(1)} instr`;
  return `${v.toPrecision(4)} ${unit}`;
}

function formatRange([lo, hi]: [number, number], unit: string): string {
  return `[${formatValue(lo, unit)}, ${formatValue(hi, unit)}]`;
}

function formatRatio(r: BenchResult): string {
  const b = r.vs_baseline;
  if (!b) return '';
  if (r.variant === b.variant && (r.params.batch ?? 1) === 1) return 'baseline';
  const text = `${b.ratio.toFixed(2)}x [${b.ci95[0].toFixed(2)}, ${b.ci95[1].toFixed(2)}]`;
  if (b.ci95[0] > 1) return pc.green(text);
  if (b.ci95[1] < 1) return pc.red(text);
  return text;
}

/** Renders rows as a plain aligned table (ANSI colour codes do not count toward width). */
export function renderTable(header: string[], rows: string[][]): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = header.map((h, i) => Math.max(visible(h), ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - visible(c))).join('  ').trimEnd();
  return [pc.bold(line(header)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function paramText(r: BenchResult): string {
  const p = r.params;
  const parts: string[] = [];
  if (r.workload === 'throughput' && p.producers !== undefined) parts.push(`${p.producers}x${p.consumers}`);
  if (p.batch !== undefined && p.batch !== 1) parts.push(`batch ${p.batch}`);
  if (typeof p.scenario === 'string') parts.push(p.scenario);
  return parts.join(' ');
}

/** The environment block printed above the tables. */
export function renderEnv(doc: BenchDocument): string {
  const e = doc.env;
  const io = e.io_uring.supported ? `io_uring yes (${e.io_uring.features.length} features)` : `io_uring no (${e.io_uring.error ?? 'refused'})`;
  return [
    `machine  ${e.cpu_model}, ${e.cores} cores, ${e.kernel}, ${e.affinity}`,
    `software node ${e.node}, ${e.compiler}, liburing ${e.liburing}, ${io}, build ${e.build}, git ${e.git_sha}`,
    `variants ${e.cflags}`,
    `run      ${doc.timing.started}, ${doc.timing.samples_per_cell} samples/cell (one process each), ${doc.timing.sample_ms} ms per native sample, ${doc.timing.js_sample_ms} ms per cross-worker sample${doc.timing.quick ? ' (--quick)' : ''}, load ${e.load.join(' ')}`,
  ].join('\n');
}

/** The bench document as terminal tables, one per family and workload. */
export function renderBench(doc: BenchDocument): string {
  const out: string[] = [renderEnv(doc), ''];
  const groups = new Map<string, BenchResult[]>();
  for (const r of doc.results) {
    const k = `${r.family} · ${r.workload} · ${r.metric}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const [title, rows] of groups) {
    const unit = rows[0]!.unit;
    out.push(pc.cyan(`${title} (${unit}, ${rows[0]!.higher_is_better ? 'higher' : 'lower'} is better)`));
    out.push(
      renderTable(
        ['variant', 'params', 'median', '95% CI', 'n', 'vs baseline [95% CI]', 'notes'],
        rows.map((r) => [r.variant, paramText(r), formatValue(r.median, unit), formatRange(r.ci95, unit), String(r.samples.length), formatRatio(r), (r.flags ?? []).join(' ')]),
      ),
    );
    out.push('');
  }
  for (const f of doc.failures) out.push(pc.red(`FAILED  ${f.family} ${f.variant} ${f.workload}: ${f.reason}`));
  for (const s of doc.skipped) out.push(pc.yellow(`skipped ${s.family} ${s.variant} ${s.workload}: ${s.reason}`));
  out.push(`(${doc.timing.seconds.toFixed(0)} s. A ratio > 1 means better than the baseline whatever the metric's direction; green: the interval excludes 1.)`);
  return out.join('\n');
}
