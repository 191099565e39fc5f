#!/usr/bin/env bash
# The baseline for docs/benchmarks.md ("Image builds"): the same work as
# `cargo xtask preflight --offline --only build`, done the plain way, one step after another.
#
# For each edition it compiles the static binaries exactly as xtask does; for each image it
# stages a context, runs `docker build` (legacy builder, whose layer cache makes an unchanged
# context cheap) and `docker run --rm IMAGE --version`. Run from the workspace root:
#
#   xtask/benches/sequential-build.sh [components...]   # default: core runner
set -euo pipefail

root=$(git rev-parse --show-toplevel)
cd "$root"
components=("${@:-core runner}")
read -r -a components <<<"${components[*]}"
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
commit=$(git rev-parse HEAD)
created=$(git show -s --format=%cI HEAD)
target=x86_64-unknown-linux-gnu
out="$root/target/images-bench"

for edition in public commercial; do
  packages=()
  features=()
  for c in "${components[@]}"; do
    packages+=(-p "aisopsflow-$c")
    if [ "$edition" = commercial ]; then features+=("aisopsflow-$c/commercial"); fi
  done
  feature_args=()
  if [ ${#features[@]} -gt 0 ]; then feature_args=(--features "$(IFS=,; echo "${features[*]}")"); fi
  AISOPSFLOW_VERSION="$version" AISOPSFLOW_COMMIT="$commit" \
    CARGO_ENCODED_RUSTFLAGS="-Ctarget-feature=+crt-static" \
    cargo build --quiet --release --locked --target "$target" --target-dir "$out" "${packages[@]}" "${feature_args[@]}"

  for c in "${components[@]}"; do
    package="aisopsflow-$c"
    if [ "$edition" = commercial ]; then package="aisopsflow-$c-commercial"; fi
    ctx="$out/contexts/$package"
    rm -rf "$ctx"
    mkdir -p "$ctx/rootfs/etc/ssl/certs"
    cp "$c/Dockerfile" "$c/.dockerignore" "$ctx/"
    cp "$out/$target/release/aisopsflow-$c" "$ctx/"
    printf 'root:x:0:0:root:/:/sbin/nologin\naisopsflow:x:10001:10001:aisopsflow:/:/sbin/nologin\n' >"$ctx/rootfs/etc/passwd"
    printf 'root:x:0:\naisopsflow:x:10001:\n' >"$ctx/rootfs/etc/group"
    cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
    DOCKER_BUILDKIT=0 docker build --quiet -t "$package:bench" \
      --build-arg VERSION="$version" --build-arg REVISION="$commit" --build-arg CREATED="$created" \
      --build-arg TITLE="$package" --build-arg EDITION="$edition" \
      --build-arg DESCRIPTION="aisopsflow $c ($edition edition). Pin this image by digest." \
      "$ctx" >/dev/null
    docker run --rm --network none "$package:bench" --version
  done
done
