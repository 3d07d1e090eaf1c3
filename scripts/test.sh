#!/usr/bin/env bash
# `npm test`: every check, fastest first (STYLE.md): typecheck + lint, unit tests, tests against
# a real local S3 (Ceph RGW), Bun suites (ffi, worker, daemon), then the kTLS suite in a VM.
# Each stage says what it does; the run stops at the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

stage() { printf '\n=== %s\n' "$*"; }
passed=0

stage "check: typecheck (functions/ with Web types only), lint, import boundaries"
npm run -s check
passed=$((passed + 1))

stage "unit tests (vitest)"
vitest run --project unit
passed=$((passed + 1))

stage "local S3: Ceph RGW (test/s3/server.sh)"
started_s3=0
if ! bash test/s3/server.sh status >/dev/null 2>&1; then started_s3=1; fi
bash test/s3/server.sh start
# Stop it at the end only if this run started it.
trap '[ "$started_s3" = 1 ] && bash test/s3/server.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(bash test/s3/server.sh env)"

stage "S3 integration tests against Ceph (vitest)"
vitest run --project s3
passed=$((passed + 1))

bun_dirs=()
for d in ffi worker test/worker test/daemon; do
  if compgen -G "$d/**/*.test.ts" >/dev/null || compgen -G "$d/*.test.ts" >/dev/null; then bun_dirs+=("./$d"); fi
done
if [ ${#bun_dirs[@]} -gt 0 ]; then
  stage "Bun suites: ${bun_dirs[*]}"
  bun test --timeout 600000 "${bun_dirs[@]}"
  passed=$((passed + 1))
fi

stage "demo: npm start -- --once (plan function + worker daemon, real uploads read back)"
bun scripts/start.ts --once
passed=$((passed + 1))

if [ -f test/ktls/run.sh ]; then
  stage "kTLS suite inside a qemu VM (test/ktls-vm.sh)"
  bash test/ktls/run.sh
  passed=$((passed + 1))
fi

printf '\nstages: %d passed, 0 failed\n' "$passed"
