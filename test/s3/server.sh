#!/usr/bin/env bash
# The local S3 for tests and the demo: Ceph RGW (Debian packages) on localhost, HTTP :7480 and
# HTTPS :7443 (a CA made at first start), one mon + one memstore osd, fixed test credentials.
#   start   install packages if missing, start (idempotent: a healthy server is left as is)
#   stop    stop rgw, then osd, then mon; no ceph daemon left
#   status  exit 0 iff rgw answers on both ports
#   env     `export` lines for S3ND_ENDPOINT_URL, AWS_* and a CA bundle (system CAs + test CA)
#   gc      purge deleted data (memstore keeps it until gc)
# Speed facts (DESIGN.md): auth none inside the cluster, 1 replica, 8 PGs, `ms mon client mode = crc`
# (radosgw hangs without it), `paxos propose interval = 0.1`.
set -euo pipefail

state=${S3ND_S3_STATE:-/var/tmp/s3nd-ceph}
conf=$state/ceph.conf
http_port=7480
https_port=7443
access_key=s3nd-test
secret_key=s3nd-test-secret-key-0123456789
region=us-east-1
# radosgw, ceph-mon, ceph-osd: the daemons; ceph-common: the ceph/radosgw-admin tools; openssl: the CA.
packages=(radosgw ceph-mon ceph-osd ceph-common openssl curl)

log() { printf 'server.sh: %s\n' "$*" >&2; }
ceph_() { ceph -c "$conf" --connect-timeout 10 "$@"; }

install_packages() {
  local missing=()
  for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

answers() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$http_port/" &&
    curl -fsS -o /dev/null --max-time 2 --cacert "$state/ca.pem" "https://localhost:$https_port/"
}

make_ca() {
  [ -f "$state/ca.pem" ] && [ -f "$state/server.pem" ] && return
  log "making a test CA"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=s3nd test CA" \
    -keyout "$state/ca.key" -out "$state/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$state/server.key" -out "$state/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$state/ext.cnf"
  openssl x509 -req -in "$state/server.csr" -CA "$state/ca.pem" -CAkey "$state/ca.key" -CAcreateserial \
    -days 3650 -extfile "$state/ext.cnf" -out "$state/server.pem" 2>/dev/null
}

bundle() {
  # System CAs (or whatever the caller already trusts) plus the test CA, so that aws-cli, Node,
  # Bun and curl trust both public endpoints and the local RGW.
  local system=/etc/ssl/certs/ca-certificates.crt
  for f in "${AWS_CA_BUNDLE:-}" "${NODE_EXTRA_CA_CERTS:-}"; do
    if [ -n "$f" ] && [ -f "$f" ] && [ "$f" != "$state/ca-bundle.pem" ]; then system=$f; break; fi
  done
  { [ -f "$system" ] && cat "$system"; cat "$state/ca.pem"; } >"$state/ca-bundle.pem.tmp"
  mv "$state/ca-bundle.pem.tmp" "$state/ca-bundle.pem"
}

write_conf() {
  local fsid=$1 endpoints="endpoint=127.0.0.1:$http_port ssl_endpoint=127.0.0.1:$https_port"
  if ip -6 addr show dev lo 2>/dev/null | grep -q '::1'; then
    endpoints+=" endpoint=[::1]:$http_port ssl_endpoint=[::1]:$https_port"
  fi
  cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:6789
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
paxos propose interval = 0.1
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 21474836480
run dir = $state/run
log file = $state/log/\$name.log
pid file = $state/run/\$name.pid
admin socket = $state/run/\$name.asok
keyring = $state/keyring
mon data = $state/mon
osd data = $state/osd
[client.rgw.s3nd]
rgw frontends = beast $endpoints ssl_certificate=$state/server.pem ssl_private_key=$state/server.key
rgw data = $state/rgw
rgw gc obj min wait = 0
rgw gc processor min wait = 60
rgw enable usage log = false
CONF
}

start() {
  install_packages
  mkdir -p "$state"
  if answers 2>/dev/null; then return; fi
  stop_daemons
  log "starting Ceph RGW in $state"
  local t0=$SECONDS
  # A fresh cluster each start: memstore keeps nothing across restarts anyway.
  rm -rf "$state/mon" "$state/osd" "$state/rgw" "$state/run" "$state/log" "$state/monmap"
  mkdir -p "$state/mon" "$state/osd" "$state/rgw" "$state/run" "$state/log"
  make_ca
  bundle
  write_conf "$(cat /proc/sys/kernel/random/uuid)"
  ceph-authtool --create-keyring "$state/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  monmaptool --create --clobber --add a 127.0.0.1:6789 --fsid "$(awk '/^fsid/ {print $3}' "$conf")" "$state/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$state/monmap" --keyring "$state/keyring"
  ceph-mon -c "$conf" -i a
  local osd_uuid
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  ceph_ osd new "$osd_uuid" >/dev/null
  ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" >>"$state/log/mkfs.log" 2>&1
  ceph-osd -c "$conf" -i 0 2>>"$state/log/osd-start.log"
  radosgw -c "$conf" -n client.rgw.s3nd
  local i
  for i in $(seq 1 150); do answers 2>/dev/null && break; sleep 0.2; done
  if ! answers 2>/dev/null; then
    log "RGW did not answer; log tails:"
    tail -n 20 "$state"/log/*.log >&2 || true
    exit 1
  fi
  radosgw-admin -c "$conf" -n client.rgw.s3nd user create --uid s3nd-test --display-name "s3nd tests" \
    --access-key "$access_key" --secret-key "$secret_key" >/dev/null 2>>"$state/log/admin.log"
  warm_up
  log "RGW up in $((SECONDS - t0)) s: http://localhost:$http_port https://localhost:$https_port"
}

# The first bucket creation sets up RGW's pools: do it here, not in the first timed test.
warm_up() {
  eval "$(print_env)"
  local ok=0 i
  for i in $(seq 1 50); do
    if aws_curl PUT "/s3nd-warmup" && aws_curl PUT "/s3nd-warmup/x" && aws_curl DELETE "/s3nd-warmup/x" &&
      aws_curl DELETE "/s3nd-warmup"; then ok=1; break; fi
    sleep 0.3
  done
  [ $ok = 1 ] || { log "warm-up failed"; tail -n 20 "$state"/log/*.log >&2; exit 1; }
}

aws_curl() {
  curl -fsS -o /dev/null --max-time 20 -X "$1" --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' ${1:+$([ "$1" = PUT ] && echo --data-binary @/dev/null)} \
    "http://127.0.0.1:$http_port$2"
}

stop_daemons() {
  local name
  for name in radosgw ceph-osd ceph-mon; do
    pkill -x "$name" 2>/dev/null || true
    for _ in $(seq 1 50); do pgrep -x "$name" >/dev/null || break; sleep 0.1; done
    pkill -9 -x "$name" 2>/dev/null || true
  done
}

print_env() {
  [ -f "$state/ca-bundle.pem" ] || { log "not started: run test/s3/server.sh start"; exit 1; }
  cat <<ENV
export S3ND_ENDPOINT_URL='https://localhost:$https_port'
export S3ND_HTTP_ENDPOINT_URL='http://localhost:$http_port'
export AWS_ACCESS_KEY_ID='$access_key'
export AWS_SECRET_ACCESS_KEY='$secret_key'
export AWS_REGION='$region'
export AWS_DEFAULT_REGION='$region'
export AWS_CA_BUNDLE='$state/ca-bundle.pem'
export NODE_EXTRA_CA_CERTS='$state/ca-bundle.pem'
export S3ND_TEST_CA='$state/ca.pem'
ENV
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemons ;;
  status) answers ;;
  env) print_env ;;
  gc) radosgw-admin -c "$conf" -n client.rgw.s3nd gc process --include-all 2>>"$state/log/admin.log" ;;
  *) echo "usage: $0 start|stop|status|env|gc" >&2; exit 2 ;;
esac
