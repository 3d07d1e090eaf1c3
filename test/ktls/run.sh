#!/usr/bin/env bash
# The kTLS stage of `npm test` (scripts/test.sh): boots the VM (test/ktls-vm.sh) and runs the Bun
# kTLS suite (test/ktls/*.test.ts plus ffi/ktls.test.ts) inside it, where tls.ko exists. The exit
# code is the suite's (124 timeout, 125 VM failure).
set -euo pipefail
cd "$(dirname "$0")/../.."
export S3ND_KTLS_VM_TIMEOUT="${S3ND_KTLS_VM_TIMEOUT:-300}"
exec bash test/ktls-vm.sh "$PWD/node_modules/.bin/bun" test --timeout 120000 ./test/ktls ./ffi/ktls.test.ts "$@"
