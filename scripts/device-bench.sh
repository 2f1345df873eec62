#!/usr/bin/env bash
# Run ON the lent GPU machine, after scripts/device-payload.sh here:
#   run(command="bash scripts/device-bench.sh", carry=[".device", ".gl"])
# Trains the seed dense and conv autoencoders on webgpu through the built CLI (the extension's own
# worker) and the same models in PyTorch on CUDA, and leaves JSON lines in $OUT:
#   webgpu-<model>.jsonl  one epoch record per line (samplesPerSec; epoch 1 includes compiling)
#   pytorch.jsonl         bench/pytorch_bench.py --device cuda
set -uo pipefail
OUT="${OUT:-/tmp/device-out}"
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
APP=/tmp/latent-app
rm -rf "$APP" && mkdir -p "$APP" && tar -xJf .device/payload.tar.xz -C "$APP" --strip-components=1
export PATH="$APP/bin:$PATH"
cd "$APP"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
node --version
for m in ${MODELS:-dense-autoencoder fashion-conv-autoencoder}; do
  # 4 epochs of 24 batches: the first compiles every pipeline, the rest are the measurement.
  bs=$(node -p "require('./samples/$m.latent.json').training.batchSize")
  node dist/cli.js train "samples/$m.latent.json" --backend webgpu --epochs 4 --limit $((bs * 24)) --json --out /tmp/runs \
    2> >(tee "$OUT/webgpu-$m.log" >&2) | tee "$OUT/webgpu-$m.jsonl"
  LATENT_WEBGPU_FUSED_OPTIMIZER=0 LATENT_WEBGPU_FUSED_LOSS=0 LATENT_WEBGPU_FUSED_GRADIENTS=0 LATENT_DEVICE_BATCHES=0 \
    node dist/cli.js train "samples/$m.latent.json" --backend webgpu --epochs 4 --limit $((bs * 24)) --json --out /tmp/runs \
    2>>"$OUT/webgpu-$m.log" | tee "$OUT/webgpu-unfused-$m.jsonl"
done
python3 bench/pytorch_bench.py --device cuda --model dense-autoencoder --model fashion-conv-autoencoder | tee "$OUT/pytorch.jsonl"
python3 bench/pytorch_bench.py --device cpu --model dense-autoencoder --model fashion-conv-autoencoder | tee "$OUT/pytorch-cpu.jsonl"
