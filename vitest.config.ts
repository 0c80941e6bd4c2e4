import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    alias: [
      // clipanion 3 ships an .mjs build with a directory import that strict ESM refuses; Node
      // itself loads its CommonJS main (what bin/dualsync runs), so the tests load that too.
      { find: /^clipanion$/, replacement: fileURLToPath(new URL('./node_modules/clipanion/lib/advanced/index.js', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real MinIO servers and s5cmd processes; on a 2-core machine
    // a few files at a time is the most that helps.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
