#!/usr/bin/env bash
# test/ktls-vm.sh <command…>: run a command inside a small qemu VM whose kernel has tls.ko (the dev/CI
# kernel has no CONFIG_TLS). DESIGN.md "Testing → kTLS" has the facts this relies on.
#
# The guest boots Debian's linux-image-*-amd64 with a busybox initramfs, mounts the host root
# read-only over virtio-9p, overlays host /tmp (read-only) with a tmpfs, mounts a writable 9p share at
# the same path as on the host, then runs the command in a chroot of the host root with the caller's
# environment and working directory. Output of the command appears on this script's stdout.
#
# Exit code: the command's; 124 on timeout; 125 when the VM itself failed (log path printed).
# Settings:
#   S3ND_KTLS_VM_TIMEOUT  seconds, default 600
#   S3ND_KTLS_VM_CACHE    kernel + initramfs cache, default /var/cache/s3nd-ktls-vm (or .tools/ktls-vm
#                         when /var/cache is not writable); ~400 MB, first run ~20 s
#   S3ND_KTLS_VM_SHARE    host dir shared writable at the same path, default a fresh temp dir; the
#                         guest sees its path in S3ND_KTLS_VM_SHARE (and S3ND_IN_KTLS_VM=1)
#   S3ND_KTLS_VM_MEM      MiB, default 1024;  S3ND_KTLS_VM_SMP  vCPUs, default 2
#   S3ND_KTLS_VM_LOG      keep the guest console log there (on failure it is kept anyway, in
#                         $TMPDIR/s3nd-ktls-vm-console.log)
# The command's stdout and stderr both arrive on stdout (one serial port); its stdin is empty.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 <command> [args…]" >&2
  exit 2
fi

timeout_s="${S3ND_KTLS_VM_TIMEOUT:-600}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
if [ -n "${S3ND_KTLS_VM_CACHE:-}" ]; then
  cache="$S3ND_KTLS_VM_CACHE"
elif [ -w /var/cache ] || [ -d /var/cache/s3nd-ktls-vm ]; then
  cache=/var/cache/s3nd-ktls-vm
else
  cache="$repo/.tools/ktls-vm" # not root: keep it with the repo's other tools (not in git)
fi
mem="${S3ND_KTLS_VM_MEM:-1024}"
smp="${S3ND_KTLS_VM_SMP:-2}"

say() { printf 'ktls-vm: %s\n' "$*" >&2; }
vm_fail() {
  say "$*"
  exit 125
}

# --- host tools (installed only when missing; a fresh Debian needs root for this) ---------------
need_pkgs=()
command -v qemu-system-x86_64 >/dev/null || need_pkgs+=(qemu-system-x86)
# (no `| grep -q` here: with pipefail, busybox's SIGPIPE would count as missing)
case " $( [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | tr '\n' ' ') " in
*" depmod "*) ;;
*) need_pkgs+=(busybox-static) ;;
esac
command -v dpkg-deb >/dev/null || need_pkgs+=(dpkg)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  say "installing ${need_pkgs[*]} (apt-get)"
  {
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
  } >&2 || vm_fail "could not install ${need_pkgs[*]}; run as root or install them yourself"
fi
busybox=/bin/busybox
# busybox-static is the statically linked one; the dynamic `busybox` package would not run in the
# initramfs (no libc there).
if ldd "$busybox" >/dev/null 2>&1; then
  vm_fail "$busybox is dynamically linked: install busybox-static"
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one builder at a time; concurrent runs share the cache afterwards

# --- kernel: Debian's linux-image-*-amd64, extracted once -----------------------------------------
kpkg=""
if [ -f "$cache/kernel.name" ]; then kpkg=$(cat "$cache/kernel.name"); fi
if [ -z "$kpkg" ] || [ ! -d "$cache/$kpkg/boot" ]; then
  kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if [ -z "$kpkg" ]; then
    apt-get update -q >&2 || true
    kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  fi
  [ -n "$kpkg" ] || vm_fail "cannot find the kernel package (apt-cache depends linux-image-amd64)"
  say "downloading $kpkg"
  rm -rf "$cache/dl" "$cache/$kpkg.tmp"
  mkdir -p "$cache/dl" "$cache/$kpkg.tmp"
  # apt's sandbox user cannot write to a root-owned cache dir; download as root is fine here.
  (cd "$cache/dl" && apt-get download -q "$kpkg" 2>&1 | { grep -v 'unsandboxed' >&2 || true; }) ||
    vm_fail "apt-get download $kpkg failed"
  dpkg-deb -x "$cache"/dl/"$kpkg"_*.deb "$cache/$kpkg.tmp" || vm_fail "dpkg-deb -x failed"
  rm -rf "$cache/dl" "$cache/$kpkg"
  mv "$cache/$kpkg.tmp" "$cache/$kpkg"
  echo "$kpkg" >"$cache/kernel.name"
fi
kroot="$cache/$kpkg"
kver=$(ls "$kroot/lib/modules" | head -1)
vmlinuz="$kroot/boot/vmlinuz-$kver"
[ -f "$vmlinuz" ] || vm_fail "no kernel image at $vmlinuz"
if [ ! -f "$kroot/lib/modules/$kver/modules.dep" ]; then
  # The package ships no modules.dep.
  "$busybox" depmod -b "$kroot" "$kver" || vm_fail "busybox depmod failed"
fi

# --- initramfs: busybox + the modules below (with their dependencies) + /init ---------------------
# tls does not declare the ciphers it needs, so they are listed explicitly (missing or built-in ones
# are skipped at boot).
modules="virtio_pci virtio_rng 9pnet_virtio 9p overlay tls aesni_intel gcm ctr ghash_generic ghash_clmulni_intel chacha20poly1305 chacha_x86_64 chacha_generic poly1305_x86_64 poly1305_generic"

init_script=$(
  cat <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /newroot /scratch /share
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.list); do
  modprobe "$m" 2>/dev/null || grep -q "/$m.ko" "/lib/modules/$(uname -r)/modules.builtin" 2>/dev/null || echo "init: modprobe $m failed" >/dev/ttyS0
done
fail() { echo "init: $*" >/dev/ttyS0; echo "init: $*" >/dev/ttyS1; reboot -f; }
o=trans=virtio,version=9p2000.L,msize=524288
mount -t 9p -o "$o,ro" root /newroot || fail "mount 9p root failed"
mount -t 9p -o "$o" share /share || fail "mount 9p share failed"
[ -f /share/.vm/cmd.sh ] || fail "no command in /share/.vm"
sharepath=$(cat /share/.vm/sharepath)
mount -t tmpfs -o size=60% scratch /scratch
mkdir -p /scratch/upper /scratch/work
mount -t overlay overlay -o lowerdir=/newroot/tmp,upperdir=/scratch/upper,workdir=/scratch/work /newroot/tmp || fail "overlay on /tmp failed"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -o bind /dev /newroot/dev
mkdir -p /newroot/dev/shm /newroot/dev/pts 2>/dev/null
mount -t tmpfs shm /newroot/dev/shm
mount -t tmpfs run /newroot/run
if [ -d /newroot/var/tmp ]; then mount -t tmpfs vartmp /newroot/var/tmp; fi
case "$sharepath" in
/tmp/*) mkdir -p "/newroot$sharepath" ;;
esac
[ -d "/newroot$sharepath" ] || fail "share path $sharepath does not exist in the guest"
mount -o bind /share "/newroot$sharepath"
ip link set lo up
stty -F /dev/ttyS1 raw -echo
chroot /newroot /bin/bash "$sharepath/.vm/cmd.sh" </dev/null >/dev/ttyS1 2>&1
echo $? >"/newroot$sharepath/.vm/rc"
sync
umount "/newroot$sharepath" 2>/dev/null
umount /share 2>/dev/null
reboot -f
INIT
)
ikey=$(printf '%s\n%s\n%s\n' "$kver" "$modules" "$init_script" | md5sum | cut -c1-12)
initrd="$cache/initramfs-$kver-$ikey.cpio.gz"
if [ ! -f "$initrd" ]; then
  say "building initramfs for $kver"
  stage="$cache/initramfs.tmp"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/dev" "$stage/lib/modules/$kver"
  cp "$busybox" "$stage/bin/busybox"
  # The kernel opens /dev/console before /init runs; without the node init has no console (only
  # root can make it; the serial ports are opened explicitly afterwards, so this is not fatal).
  mknod -m 600 "$stage/dev/console" c 5 1 || say "cannot create /dev/console in the initramfs (not root?)"
  mknod -m 666 "$stage/dev/null" c 1 3 || true # devtmpfs provides it later; only early boot lacks it
  printf '%s\n' "$init_script" >"$stage/init"
  chmod 755 "$stage/init"
  depfile="$kroot/lib/modules/$kver/modules.dep"
  want=""
  for m in $modules; do
    # modules.dep names files with '-' or '_' as the source tree has them; match both.
    pat=$(printf '%s' "$m" | sed 's/[-_]/[-_]/g')
    line=$(grep -E "/$pat\\.ko(\\.xz|\\.zst)?:" "$depfile" || true)
    [ -n "$line" ] || continue
    want="$want $(printf '%s' "$line" | tr -d ':')"
    echo "$m" >>"$stage/modules.list"
  done
  for f in $(printf '%s\n' $want | sort -u); do
    mkdir -p "$stage/lib/modules/$kver/$(dirname "$f")"
    cp "$kroot/lib/modules/$kver/$f" "$stage/lib/modules/$kver/$f"
  done
  cp "$kroot/lib/modules/$kver"/modules.{order,builtin} "$stage/lib/modules/$kver/"
  "$busybox" depmod -b "$stage" "$kver"
  (cd "$stage" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$initrd.tmp")
  mv "$initrd.tmp" "$initrd"
  rm -rf "$stage"
fi
flock -u 9

# --- the command: script, environment and cwd go through the share (the cmdline is ~2 KiB) --------
own_share=0
if [ -n "${S3ND_KTLS_VM_SHARE:-}" ]; then
  share=$(realpath "$S3ND_KTLS_VM_SHARE")
else
  share=$(mktemp -d /tmp/s3nd-ktls-vm.XXXXXX)
  own_share=1
fi
run="$share/.vm"
rm -rf "$run"
mkdir -p "$run"
cleanup() {
  if [ "$own_share" = 1 ]; then rm -rf "$share"; else rm -rf "$run"; fi
}
trap cleanup EXIT
printf '%s\n' "$share" >"$run/sharepath"
{
  echo '# generated by test/ktls-vm.sh'
  # The caller's exported environment, minus what belongs to this shell or this terminal.
  export -p | grep -vE '^declare -x (HOME|PWD|OLDPWD|SHLVL|TERM|_|TMUX|SSH_[A-Z_]*|DISPLAY|COLORTERM)(=|$)'
  printf 'export HOME=/tmp/ktls-vm-home TERM=dumb S3ND_KTLS_VM_SHARE=%q S3ND_IN_KTLS_VM=1\n' "$share"
  echo 'mkdir -p "$HOME"'
  # The guest's output port is a tty; without one here, keep colour codes out of logs.
  if [ ! -t 1 ] && [ -z "${FORCE_COLOR:-}" ]; then echo 'export NO_COLOR=1'; fi
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$run/cmd.sh"

log="$run/console.log"
keep_log="${S3ND_KTLS_VM_LOG:-${TMPDIR:-/tmp}/s3nd-ktls-vm-console.log}"
set +e
timeout -k 5 "$timeout_s" qemu-system-x86_64 \
  -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem" -machine q35 \
  -nodefaults -no-reboot -display none -vga none -device virtio-rng-pci \
  -kernel "$vmlinuz" -initrd "$initrd" \
  -append "console=ttyS0 loglevel=4 panic=-1 rdinit=/init" \
  -fsdev local,id=rootfs,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=rootfs,mount_tag=root \
  -fsdev local,id=sharefs,path="$share",security_model=none,multidevs=remap \
  -device virtio-9p-pci,fsdev=sharefs,mount_tag=share \
  -chardev file,id=con,path="$log" -serial chardev:con \
  -chardev stdio,id=out,signal=off -serial chardev:out \
  </dev/null
qrc=$?
set -e
if [ -n "${S3ND_KTLS_VM_LOG:-}" ]; then cp "$log" "$S3ND_KTLS_VM_LOG" 2>/dev/null || true; fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  cp "$log" "$keep_log" 2>/dev/null || true
  say "timed out after ${timeout_s}s (console log: $keep_log)"
  exit 124
fi
if [ ! -f "$run/rc" ]; then
  cp "$log" "$keep_log" 2>/dev/null || true
  say "the VM failed (qemu exit $qrc); console log: $keep_log"
  tail -n 20 "$log" >&2 2>/dev/null || true
  exit 125
fi
exit "$(cat "$run/rc")"
