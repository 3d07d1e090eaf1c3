import { afterAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../config.ts';
import { AllowedRoots, PathRefused } from './allowed-roots.ts';

const dir = mkdtempSync(join(tmpdir(), 's3nd-roots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'out'));
mkdirSync(join(dir, 'outgoing'));
writeFileSync(join(dir, 'out', 'a'), 'a');
writeFileSync(join(dir, 'outgoing', 'b'), 'b');
symlinkSync(join(dir, 'out'), join(dir, 'link-to-out'));

test('a root is a directory, not a string prefix: /x/out does not admit /x/outgoing', () => {
  const roots = new AllowedRoots([join(dir, 'out')]);
  expect(roots.resolve(join(dir, 'out', 'a'))).toBe(join(dir, 'out', 'a'));
  expect(() => roots.resolve(join(dir, 'outgoing', 'b'))).toThrow(PathRefused);
  expect(() => roots.resolve(join(dir, 'out', '..', 'outgoing', 'b'))).toThrow(/outside S3ND_ALLOWED_ROOTS/);
});

test('a symlinked root is resolved once at start; files through it resolve to the real path', () => {
  const roots = new AllowedRoots([join(dir, 'link-to-out')]);
  expect(roots.resolve(join(dir, 'link-to-out', 'a'))).toBe(join(dir, 'out', 'a'));
  expect(roots.resolve(join(dir, 'out', 'a'))).toBe(join(dir, 'out', 'a'));
});

test('unset means unrestricted; directories and relative paths are refused either way', () => {
  const roots = new AllowedRoots(undefined);
  expect(roots.restricted).toBe(false);
  expect(roots.resolve(join(dir, 'outgoing', 'b'))).toBe(join(dir, 'outgoing', 'b'));
  expect(() => roots.resolve(join(dir, 'out'))).toThrow(/not a regular file/);
  expect(() => roots.resolve('out/a')).toThrow(/absolute path/);
});

test('a root that does not exist fails at start with the setting named', () => {
  expect(() => new AllowedRoots([join(dir, 'nope')])).toThrow(ConfigError);
  expect(() => new AllowedRoots([join(dir, 'nope')])).toThrow(/S3ND_ALLOWED_ROOTS entry/);
});
