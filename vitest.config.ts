import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Several files rebuild dist/ in a hook (to run alone, too): on a busy machine that took over 60 s.
    hookTimeout: 120_000,
  },
});
