#!/usr/bin/env bash
# `npm run bench:presign`: the presigner benchmark on Node (via tsx) and on Bun, same run; the last
# lines are one JSON object per runtime.
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/tsx test/bench/presign.ts | tee /tmp/s3nd-bench-node.txt
node_modules/.bin/bun test/bench/presign.ts | tee /tmp/s3nd-bench-bun.txt
echo
tail -n 1 /tmp/s3nd-bench-node.txt
tail -n 1 /tmp/s3nd-bench-bun.txt
