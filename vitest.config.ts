import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Measuring tests take the machine-wide lock; files run one at a time so
    // a worker-thread test never competes with a native stress test for 2 vCPUs.
    fileParallelism: false,
    reporters: ['default'],
  },
});
