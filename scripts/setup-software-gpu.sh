#!/usr/bin/env bash
# Installs a software WebGPU adapter so the webgpu backend's tests run on machines without a GPU:
# Mesa's lavapipe (a Vulkan driver on the CPU) that Dawn (npm `webgpu`) accepts as an adapter.
#
# Debian 12's own lavapipe (Mesa 22.3) lacks shaderUniform*ArrayDynamicIndexing, so Dawn refuses it;
# bookworm-backports' Mesa 25 works. Its driver is unpacked into .cache/software-gpu (nothing under
# / changes besides the libvulkan1 loader from Debian main), with an ICD file pointing at it.
# test/helpers/softwareGpu.ts points VK_ICD_FILENAMES at that file and sets LATENT_WEBGPU_SOFTWARE=1
# (which lets src/backend/select.ts accept a software adapter) in the test files that want webgpu.
#
# Idempotent (a marker makes reruns instant). On machines it does not support (not Debian x86-64,
# no root) the webgpu tests are skipped with the reason, as on any machine without a GPU; where it
# installed lavapipe, or failed on a machine it supports (.setup-failed), they must run: a webgpu
# that does not load is then a failure (test/helpers/softwareGpu.ts).
set -uo pipefail

MESA_VERSION=25.0.7-2~bpo12+1
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="$ROOT/.cache/software-gpu"
MARKER="$DIR/.setup-complete"
log() { printf '[setup-software-gpu] %s\n' "$*"; }

if [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$MESA_VERSION" ] && [ -f "$DIR/lvp_icd.json" ] && ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; then
  log "lavapipe $MESA_VERSION already in ${DIR#"$ROOT"/}"
  exit 0
fi
if [ "$(uname -m)" != x86_64 ] || ! command -v apt-get >/dev/null 2>&1; then
  log "skipped: needs Debian on x86-64 (webgpu tests will be skipped)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { log "skipped: need root (or sudo) for apt-get"; exit 0; }
  SUDO="sudo -n"
fi

setup() {
  export DEBIAN_FRONTEND=noninteractive
  if ! ldconfig -p | grep 'libvulkan\.so\.1' >/dev/null; then
    log "apt-get install libvulkan1"
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends libvulkan1 >/dev/null || return 1
  fi
  # A private apt state for bookworm-backports: the machine's sources and package state stay as they are.
  local apt="$DIR/apt"
  rm -rf "$apt" && mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$DIR/debs"
  echo "deb http://deb.debian.org/debian bookworm-backports main" >"$apt/sources.list"
  local o=(-o "Dir::State::Lists=$apt/lists" -o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null" -o "Dir::Cache::Archives=$apt/archives" -o "APT::Sandbox::User=root")
  log "downloading mesa-vulkan-drivers $MESA_VERSION (bookworm-backports)"
  apt-get "${o[@]}" -qq update || return 1
  (cd "$DIR/debs" && apt-get "${o[@]}" -qq download "mesa-vulkan-drivers=$MESA_VERSION") || return 1
  rm -rf "$DIR/root" && dpkg -x "$DIR"/debs/mesa-vulkan-drivers_*.deb "$DIR/root" || return 1
  local lib="$DIR/root/usr/lib/x86_64-linux-gnu/libvulkan_lvp.so"
  [ -f "$lib" ] || { log "no libvulkan_lvp.so in the package"; return 1; }
  # Its other libraries (LLVM 15, libdrm, ...) are the same as Debian 12's; install any that are missing.
  local need
  need=$(ldd "$lib" | awk '/not found/ {print $1}')
  if [ -n "$need" ]; then
    log "installing the driver's dependencies"
    $SUDO apt-get install -y -qq --no-install-recommends libllvm15 libdrm2 libdrm-amdgpu1 libelf1 libexpat1 libwayland-client0 libx11-xcb1 \
      libxcb-dri3-0 libxcb-present0 libxcb-randr0 libxcb-shm0 libxcb-sync1 libxcb-xfixes0 libxshmfence1 libzstd1 >/dev/null || return 1
  fi
  printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "1.4.305" }\n}\n' "$lib" >"$DIR/lvp_icd.json"
  rm -rf "$apt" "$DIR/debs"
  echo "$MESA_VERSION" >"$MARKER"
}

rm -f "$DIR/.setup-failed"
if setup; then
  log "lavapipe $MESA_VERSION ready: ${DIR#"$ROOT"/}/lvp_icd.json"
else
  # This machine is one the setup supports: the webgpu tests fail with this (a broken setup must not pass as skips).
  mkdir -p "$DIR" && echo "installing lavapipe $MESA_VERSION from bookworm-backports failed (rerun scripts/setup-software-gpu.sh to see why)" >"$DIR/.setup-failed"
  log "failed (the webgpu tests will fail with the reason)"
fi
exit 0
