/** The perflab store (SQLite): see store.ts. */
export * from './store.js';
export { contentHash } from './hash.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, userVersion, type Migration } from './schema.js';
export { REDACTED, redact, assertNoSecrets, isSecretName } from './guard.js';
export { openDatabase, type Database } from './sqlite.js';
export * from './experiments.js';
