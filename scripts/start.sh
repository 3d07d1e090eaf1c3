#!/usr/bin/env bash
# `npm start`: start the local S3 and run the demo with its settings in the environment (Bun reads
# NODE_EXTRA_CA_CERTS at start-up, so the test CA must be trusted before bun starts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/s3/server.sh start
eval "$(bash test/s3/server.sh env)"
exec node_modules/.bin/bun scripts/start.ts "$@"
