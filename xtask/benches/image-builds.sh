#!/usr/bin/env bash
# Reproduces docs/benchmarks.md, section "Image builds" (a benchmark, not a test):
#
#   xtask/benches/image-builds.sh          # warm medians and ratio (RUNS=15 by default)
#   COLD=1 xtask/benches/image-builds.sh   # also one cold run of each (deletes target/images*
#                                          # and the images they built)
#
# It compares `cargo xtask preflight --offline --only build` with nothing changed against
# xtask/benches/sequential-build.sh, which does the same work one step at a time. It uses
# hyperfine when installed (`apt-get install -y hyperfine`), else a loop and medians.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
runs=${RUNS:-15}
ours='cargo xtask preflight --offline --only build'
script='xtask/benches/sequential-build.sh'

cargo build --quiet --locked -p xtask
if [ "${COLD:-0}" = 1 ]; then
  docker images -q --filter label=io.aisopsflow.build-key | sort -u | xargs -r docker rmi -f >/dev/null
  docker images --format '{{.Repository}}:{{.Tag}}' | grep ':bench$' | xargs -r docker rmi -f >/dev/null
  rm -rf target/images target/images-bench
  start=$(date +%s.%N); $ours >/dev/null; end=$(date +%s.%N)
  echo "cold: ours $(echo "$end - $start" | bc) s"
  start=$(date +%s.%N); $script >/dev/null 2>&1; end=$(date +%s.%N)
  echo "cold: script $(echo "$end - $start" | bc) s"
fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
if command -v hyperfine >/dev/null; then
  json=target/bench-image-builds.json
  hyperfine --style basic -N -w 2 -r "$runs" --export-json "$json" "$ours" "$script" >/dev/null 2>&1
  python3 - "$json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0]["median"], r[1]["median"]
print(f"warm median: ours {a:.3f} s, script {b:.3f} s, ratio {a / b:.2f}")
PY
else
  $ours >/dev/null; $script >/dev/null 2>&1
  for cmd in "$ours" "$script"; do
    for _ in $(seq "$runs"); do
      s=$(date +%s.%N); $cmd >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc
    done | median
  done | paste -sd' ' | awk '{printf "warm median: ours %.3f s, script %.3f s, ratio %.2f\n", $1, $2, $1/$2}'
fi
