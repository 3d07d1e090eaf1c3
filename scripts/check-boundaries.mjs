// Enforces the layout's import boundaries (DESIGN.md "Layout"):
//   functions/ is Web-standard only: no node:*, bun:* or Deno (tests excepted);
//   bun:ffi is imported under ffi/ only.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const skip = new Set(['node_modules', '.git', '.tools']);
function* tsFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (skip.has(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* tsFiles(path);
    else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) yield path;
  }
}

const problems = [];
for (const file of tsFiles('.')) {
  const text = readFileSync(file, 'utf8');
  if (file.startsWith('functions/') && !file.endsWith('.test.ts')) {
    const m = text.match(/from\s+['"](node:[^'"]+|bun:[^'"]+|bun)['"]|\bDeno\./);
    if (m) problems.push(`${file}: functions/ must stay Web-standard, found ${m[0]}`);
  }
  if (!file.startsWith('ffi/') && file !== 'scripts/check-boundaries.mjs' && /['"]bun:ffi['"]/.test(text)) {
    problems.push(`${file}: bun:ffi may only be imported under ffi/`);
  }
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('boundaries ok');
