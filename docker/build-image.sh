#!/bin/sh
# Builds the statically linked gregor binary and the FROM scratch image from it.
#   docker/build-image.sh [TAG]      TAG defaults to gregor:latest
# The binary goes to target/x86_64-unknown-linux-gnu/release/gregor, apart from the normal
# release build. The docker build context is a temporary directory holding only a stripped
# copy of it, so the context is a few MB and nothing is pulled (FROM scratch).
set -eu

tag="${1:-gregor:latest}"
target=x86_64-unknown-linux-gnu
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --target "$target" --bin gregor

bin="target/$target/release/gregor"
# A dynamically linked binary would start nowhere in scratch: refuse it here.
case "$(file -b "$bin")" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) echo "build-image.sh: $bin is not statically linked: $(file -b "$bin")" >&2; exit 1 ;;
esac

ctx="$(mktemp -d "${TMPDIR:-/tmp}/gregor-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT INT TERM
mkdir -p "$ctx/target/$target/release"
strip -o "$ctx/target/$target/release/gregor" "$bin"

docker build -f docker/Dockerfile -t "$tag" "$ctx"
docker image ls "$tag"
