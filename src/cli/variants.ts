import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { readSources } from '../native/sources.js';
import { renderTable } from '../report/table.js';
import { openStore, type StoredVariant } from '../store/index.js';
import { emit } from './output.js';

interface VariantsFlags {
  family?: string;
  json?: boolean;
  store?: string;
}

/** One entry of `perflab variants --json` (INTERFACES.md). */
export interface VariantEntry {
  name: string;
  family: string;
  origin: StoredVariant['origin'];
  hash: string;
  parent: string | null;
  status: string;
}

export interface VariantsDocument {
  schema_version: 1;
  variants: VariantEntry[];
}

/** Families that have stored variants (those of native/sources.json). */
function variantFamilies(): string[] {
  return Object.keys(readSources().variants);
}

export function runVariants(flags: VariantsFlags): number {
  const families = variantFamilies();
  if (flags.family !== undefined && !families.includes(flags.family)) {
    throw new UsageError(`--family must be one of ${families.join(', ')}, not "${flags.family}"`);
  }
  const store = openStore(flags.store);
  let doc: VariantsDocument;
  let created: Map<string, string>;
  try {
    const rows = store.listVariants(flags.family);
    created = new Map(rows.map((v) => [v.hash, v.createdAt]));
    doc = {
      schema_version: 1,
      variants: rows.map((v) => ({ name: v.name, family: v.family, origin: v.origin, hash: v.hash, parent: v.parent, status: v.status })),
    };
  } finally {
    store.close();
  }
  emit(flags.json === true, doc, () =>
    doc.variants.length === 0
      ? `no stored variants${flags.family ? ` in family ${flags.family}` : ''} (store ${store.path})`
      : renderTable(
          ['family', 'name', 'origin', 'hash', 'parent', 'status', 'created'],
          doc.variants.map((v) => [v.family, v.name, v.origin, v.hash, v.parent ?? '', v.status, (created.get(v.hash) ?? '').replace('T', ' ').slice(0, 19)]),
        ) + `\n(${doc.variants.length} variants; store ${store.path})`,
  );
  return 0;
}

export function registerVariants(program: Command): void {
  program
    .command('variants')
    .description('list the stored variants (built-ins and every variant ever built, by content hash)')
    .option('--family <family>', 'one family: spsc, mpmc (default: all)')
    .option('--json', 'print one JSON document on stdout')
    .option('--store <path>', 'the store file (default: $PERFLAB_STORE, else ./.perflab/perflab.db)')
    .action((flags: VariantsFlags) => {
      process.exitCode = runVariants(flags);
    });
}
