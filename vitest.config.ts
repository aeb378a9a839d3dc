import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // CLI tests spawn bin/icl-lab, which runs the compiled dist/ (built by `npm test` first).
    pool: 'forks',
  },
});
