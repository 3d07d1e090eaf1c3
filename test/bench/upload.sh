#!/usr/bin/env bash
# `npm run bench:upload`: s3nd against aws-cli v2, rclone, s3cmd and @aws-sdk/lib-storage uploading the
# same files to the local Ceph RGW (started here if needed, left as found). See test/bench/upload.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `npm run bench:upload -- --ktls`: the ktls vs fetch transport bench (test/bench/ktls.ts) inside the
# kTLS VM instead; nothing below runs.
if [ "${1:-}" = --ktls ]; then
  shift
  export S3ND_KTLS_VM_TIMEOUT="${S3ND_KTLS_VM_TIMEOUT:-900}"
  exec bash test/ktls-vm.sh "$PWD/node_modules/.bin/bun" test/bench/ktls.ts "$@"
fi
export PATH="$PWD/node_modules/.bin:$PATH"
# The peers come from Debian (aws-cli v2 is /usr/bin/aws from `awscli`); install what is missing.
missing=()
for pair in time:/usr/bin/time awscli:/usr/bin/aws rclone:rclone s3cmd:s3cmd; do
  command -v "${pair#*:}" >/dev/null || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench:upload: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
started_s3=0
if ! bash test/s3/server.sh status >/dev/null 2>&1; then started_s3=1; fi
bash test/s3/server.sh start
trap '[ "$started_s3" = 1 ] && bash test/s3/server.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(bash test/s3/server.sh env)"
node --import tsx test/bench/upload.ts
