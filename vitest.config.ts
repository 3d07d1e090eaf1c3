import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `s3` talks to the local Ceph RGW that
// test/s3/global-setup.ts starts (test/s3/server.sh) and whose settings it exports.
// Bun-only code (worker/, ffi/) is tested with `bun test`, see scripts/test.sh.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['functions/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 's3',
          include: ['test/s3/**/*.test.ts'],
          globalSetup: ['test/s3/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
