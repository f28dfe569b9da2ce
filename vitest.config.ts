import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Fixture projects' own tests (test/fixtures/vitest-project) are run by the tests that use them.
    exclude: [...configDefaults.exclude, 'test/fixtures/**'],
    testTimeout: 60_000,
    // Several files rebuild dist/ in a hook (to run alone, too): on a busy machine that took over 60 s.
    hookTimeout: 120_000,
    // Every test instruments for real; the tests of the result store (result-store.test.ts) turn it on where they want it.
    env: { TSTRACE_CACHE: 'off' },
  },
});
