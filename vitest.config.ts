import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fixture projects' own tests (test/fixtures/vitest-project) are run by the tests that use them.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    testTimeout: 60_000,
    // Several files rebuild dist/ in a hook (to run alone, too): on a busy machine that took over 60 s.
    hookTimeout: 120_000,
  },
});
