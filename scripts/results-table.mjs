#!/usr/bin/env node
// Renders `perflab bench --json` documents as the README's results table:
//   node scripts/results-table.mjs run1.json [run2.json ...]
// One row per cell; with several runs, the median of each run and the range of
// the ratio-to-baseline across runs (the machine has phases: say how much).
import { readFileSync } from 'node:fs';

const docs = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
if (docs.length === 0) {
  process.stderr.write('usage: node scripts/results-table.mjs bench.json [more.json ...]\n');
  process.exit(2);
}
const unit = (v, u) => {
  if (u === 'items/s') return v >= 1e9 ? `${(v / 1e9).toFixed(2)} G/s` : `${(v / 1e6).toFixed(1)} M/s`;
  if (u === 'ns') return `${v.toFixed(0)} ns`;
  if (u === 'instructions') return `${v.toFixed(1)}`;
  return `${v.toPrecision(3)} ${u}`;
};
const key = (r) => `${r.family}|${r.workload}|${r.metric}|${r.variant}|${JSON.stringify(r.params)}`;
const rows = new Map();
for (const d of docs) for (const r of d.results) rows.set(key(r), [...(rows.get(key(r)) ?? []), r]);
const params = (r) => {
  const p = r.params;
  const parts = [];
  if (r.workload === 'throughput') parts.push(`${p.producers}x${p.consumers}`);
  if (p.batch && p.batch !== 1) parts.push(`batch ${p.batch}`);
  return parts.join(' ');
};
const e = docs[0].env;
console.log(`Measured on ${e.cpu_model}, ${e.cores} vCPUs, ${e.kernel}, Node ${e.node}, ${e.compiler}; ${docs.length} run(s) of \`npm run bench\` (${docs.map((d) => d.timing.started.slice(0, 16).replace('T', ' ')).join(', ')} UTC), ${docs[0].timing.samples_per_cell} samples per cell each.`);
console.log('');
console.log('| family | workload | variant | params | median (run 1) [95% CI] | vs baseline, run 1 [95% CI] | vs baseline, all runs (min–max) |');
console.log('|---|---|---|---|---|---|---|');
for (const list of rows.values()) {
  const r = list[0];
  if (r.metric === 'rtt_ns_p99') continue; // p50 in the README; p99 in the JSON
  const ratio = r.vs_baseline ? `${r.vs_baseline.ratio.toFixed(2)}x [${r.vs_baseline.ci95.map((x) => x.toFixed(2)).join(', ')}]` : '—';
  const ratios = list.map((x) => x.vs_baseline?.ratio).filter((x) => typeof x === 'number');
  const range = ratios.length > 1 ? `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}x` : '—';
  const base = r.vs_baseline && r.vs_baseline.variant === r.variant && (r.params.batch ?? 1) === 1;
  console.log(`| ${r.family} | ${r.workload} ${r.metric === 'items_per_s' ? '' : `(${r.metric})`} | ${r.variant} | ${params(r)} | ${unit(r.median, r.unit)} [${unit(r.ci95[0], r.unit)}, ${unit(r.ci95[1], r.unit)}] | ${base ? 'baseline' : ratio} | ${base ? '' : range} |`);
}
