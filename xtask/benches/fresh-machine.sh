#!/usr/bin/env bash
# The fresh-machine check (docs/benchmarks.md, "A fresh machine"): builds a fresh Debian 12
# root file system, gives it only what any Rust project presumes (git, gcc, libc6-dev,
# ca-certificates and the Rust toolchain), clones this checkout's HEAD into it and runs the
# README's two commands there, as root, printing each one's exit code and time.
#
#   sudo xtask/benches/fresh-machine.sh              # the whole check
#   sudo ROOT_ONLY=1 xtask/benches/fresh-machine.sh  # only build and enter the root, then stop
#   sudo KEEP=1 xtask/benches/fresh-machine.sh       # leave the root directory for inspection
#
# Each command's whole output is kept as $LOGS/fresh-machine-<commit>-<command>.log
# (LOGS defaults to WORK, /var/tmp).
#
# Needs root, debootstrap (`apt-get install debootstrap`) and a Debian mirror (read from
# /etc/apt/sources.list.d or /etc/apt/sources.list; override with MIRROR=URL). The root lives
# under /var/tmp (override with WORK=DIR). Commands run in it after a pivot_root, in their own
# mount and PID namespaces, with /proc, /sys and /dev mounted: a privileged container cannot be
# used here ("unable to apply caps"), and a chroot breaks `docker exec` (see in_root). Every mount
# it makes and every process left in the root is undone on exit, also on error and Ctrl-C.
set -euo pipefail

repo=$(git rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
[ "$(id -u)" = 0 ] || { echo "fresh-machine.sh: run as root (it runs debootstrap, mount and pivot_root)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "fresh-machine.sh: install debootstrap: apt-get install -y debootstrap" >&2; exit 3; }

mirror=${MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "fresh-machine.sh: no Debian mirror found; set MIRROR=http://deb.debian.org/debian" >&2; exit 2; }

work=$(mktemp -d "${WORK:-/var/tmp}/aisopsflow-fresh.XXXXXX")
logs=${LOGS:-${WORK:-/var/tmp}}
root=$work/root
log=$work/debootstrap.log

cleanup() {
  local rc=$?
  set +e
  # Processes whose root is the fresh root were all started by this script (the commands, and
  # any dockerd or registry they left): TERM, then KILL, each by its id.
  local pids
  pids=$(for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && echo "${p#/proc/}"
  done)
  if [ -n "$pids" ]; then
    echo "cleanup: stopping processes left in the root: $(echo $pids)"
    kill -TERM $pids 2>/dev/null
    for _ in $(seq 1 40); do
      alive=""; for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
      [ -z "$alive" ] && break
      sleep 0.25
    done
    [ -n "${alive:-}" ] && kill -KILL $alive 2>/dev/null
  fi
  # Every mount under the root, deepest first (dockerd leaves nsfs and overlay mounts too).
  awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  if awk -v r="$root" '$5 == r || index($5, r "/") == 1 {f=1} END {exit !f}' /proc/self/mountinfo; then
    echo "cleanup: mounts remain under $root; not removing it" >&2
  elif [ "${KEEP:-0}" = 1 ]; then
    echo "cleanup: kept $work"
  else
    rm -rf "$work"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }

echo "fresh-machine: commit $commit, mirror $mirror, root $root"
t=$(now)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log" 2>&1 ||
  { tail -n 30 "$log" >&2; echo "debootstrap failed" >&2; exit 3; }
echo "debootstrap: $(secs "$t" "$(now)") s"

# The root has no init system: like a container image, it denies service starts, so installing
# docker.io starts no dockerd of its own (on a real machine systemd would; setup then uses it).
printf '#!/bin/sh\n# fresh-machine.sh: no init system in this root; 101 = action denied\nexit 101\n' \
  >"$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"

# The Rust toolchain, as rustup installs it: ~/.rustup (hard links: the toolchains are only
# read) and ~/.cargo without its registry cache, so crates are fetched as on a new machine.
# Before the bind mount below: hard links cannot cross mounts, even on one file system.
t=$(now)
if ! cp -al /root/.rustup "$root/root/.rustup" 2>/dev/null; then
  rm -rf "$root/root/.rustup" && cp -a /root/.rustup "$root/root/.rustup"
fi
mkdir -p "$root/root/.cargo"
for f in /root/.cargo/*; do
  case "$(basename "$f")" in registry|git|.package-cache*) ;; *) cp -a "$f" "$root/root/.cargo/" ;; esac
done
git clone --quiet --no-local "$repo" "$root/root/aisopsflow-enterprise"
git -C "$root/root/aisopsflow-enterprise" checkout --quiet --detach "$commit"
copied=$(secs "$t" "$(now)")

# The root must be a mount point, as / is on a machine: dockerd's layer extraction remounts /
# in a private mount namespace and fails with "remount /, flags: 0x84000: invalid argument"
# when / is a plain directory (and pivot_root needs a mount point).
mount --bind "$root" "$root" && mount --make-private "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/hosts "$root/etc/hosts"
# This machine reaches the network through a proxy whose CA is trusted locally; a fresh machine
# on it needs the same extra CA certificates, or neither apt (https) nor cargo can fetch.
mkdir -p "$root/usr/local/share/ca-certificates"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
[ -f /etc/apt/apt.conf.d/99artifact-registry ] && cp /etc/apt/apt.conf.d/99artifact-registry "$root/etc/apt/apt.conf.d/"

# Each command enters the root as a machine boots into its /, not as a chroot: in fresh mount
# and PID namespaces it bind-mounts nothing new, pivots / onto the root (pivot_root, as a
# container runtime does), detaches the old / and mounts its own /proc. Under a plain chroot,
# `docker exec` fails ("exec: ... stat ... no such file or directory"): runc joins a
# container's mount namespace at the namespace's root mount, which for an engine started in
# a chroot is the host's /, not the container's file system. When the command ends, the PID
# namespace ends with it, so nothing it started (dockerd, registries) outlives it, and the
# mounts those made vanish with their namespace.
in_root() {
  unshare --mount --pid --fork --kill-child --propagation private -- /bin/sh -c '
    set -e
    cd "$1"
    mkdir -p .fresh-machine-old-root
    pivot_root . .fresh-machine-old-root
    cd /
    umount -l /.fresh-machine-old-root
    rmdir /.fresh-machine-old-root
    mount -t proc proc /proc
    exec /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
      PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      bash -c "$2"
  ' fresh-machine "$root" "$1"
}

t=$(now)
in_root 'export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends git gcc libc6-dev ca-certificates >/dev/null &&
  update-ca-certificates >/dev/null'
echo "base packages (git gcc libc6-dev ca-certificates): $(secs "$t" "$(now)") s"

echo "toolchain and clone: $copied s ($(in_root 'cargo --version'))"
present=$(in_root 'command -v docker dockerd docker-registry skopeo' | tr '\n' ' ' || true)
echo "present before the commands: ${present:-none of docker, dockerd, docker-registry, skopeo}"

if [ "${ROOT_ONLY:-0}" = 1 ]; then
  in_root 'cd /root/aisopsflow-enterprise && git log --oneline -1 && gcc --version | head -1'
  echo "ROOT_ONLY=1: stopping before the README's commands"
  exit 0
fi

# The README's two commands, exactly (see "Two commands on a fresh machine").
commands=("cargo xtask rehearse" "cargo xtask test")
codes=()
times=()
for c in "${commands[@]}"; do
  echo "=== $c"
  t=$(now)
  set +e
  in_root "cd /root/aisopsflow-enterprise && $c" 2>&1 | tee "$work/$(echo "$c" | tr ' ' '-').log" |
    grep -E --line-buffered '^(setup|rehearsal|test result|error|FAILED|failures|---- |thread .* panicked)' 
  code=${PIPESTATUS[0]}
  set -e
  codes+=("$code"); times+=("$(secs "$t" "$(now)")")
  echo "=== $c: exit $code in ${times[-1]} s"
  # The whole log outlives the root (which cleanup removes).
  cp "$work/$(echo "$c" | tr ' ' '-').log" "$logs/fresh-machine-${commit:0:12}-$(echo "$c" | tr ' ' '-').log"
  [ "$code" = 0 ] || tail -n 60 "$work/$(echo "$c" | tr ' ' '-').log"
done

echo
echo "fresh-machine summary (commit ${commit:0:12}):"
for i in "${!commands[@]}"; do
  printf '  %-24s exit %s  %8s s\n' "${commands[$i]}" "${codes[$i]}" "${times[$i]}"
done
for c in "${codes[@]}"; do [ "$c" = 0 ] || exit 1; done
