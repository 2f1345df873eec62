#!/usr/bin/env bash
# Run HERE (the dev machine) before measuring on a lent GPU machine (the `device` tool, see
# /work/.library/device/README.md): packs what that machine lacks into git-ignored folders the
# tool can carry (64 MiB in all):
#   .device/payload.tar.xz  Node (not installed there), the built extension without source maps
#                           (dist/: the CLI, the worker, Dawn for Linux, the decoded datasets),
#                           the samples and bench/pytorch_bench.py
#   .gl/*.deb               the Vulkan loader, as the device README says (Dawn finds the GPU through it)
# Then: run(command="bash scripts/device-bench.sh", carry=[".device", ".gl"]).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
[ -f dist/cli.js ] && [ -f dist/worker.js ] || npm run build
stage="$(mktemp -d)"
mkdir -p "$stage/app/bin" "$stage/app/bench" "$stage/app/samples"
cp "$(command -v node)" "$stage/app/bin/node"
tar -C . --exclude '*.map' --exclude 'dist/test' --exclude 'dist/webview' -cf - dist | tar -C "$stage/app" -xf -
cp samples/*.latent.json "$stage/app/samples/"
cp bench/pytorch_bench.py "$stage/app/bench/"
mkdir -p .device
tar -C "$stage" -cf - app | xz -T0 -6 >.device/payload.tar.xz
rm -rf "$stage"
if ! ls .gl/*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64 -oAPT::Sandbox::User=root)
  apt-get "${o[@]}" -qq update
  (cd .gl && apt-get "${o[@]}" -qq download libvulkan1)
fi
du -sh .device/payload.tar.xz .gl
