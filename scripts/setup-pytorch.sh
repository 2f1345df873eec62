#!/usr/bin/env bash
# The PyTorch engine's tests (test/export, test/cli/pytorch, test/e2e/pytorch) need a Python with
# torch and numpy (Pillow for image folders). As root on Debian/Ubuntu this installs Debian's
# python3-torch (1.13, CPU, with torch.distributed and Gloo) for /usr/bin/python3; elsewhere it says
# what is missing and the tests skip with that reason. python3-h5py writes the Keras .h5 / .keras
# files the import tests read.
set -euo pipefail
for py in "${LATENT_STUDIO_PYTHON:-}" python3 /usr/bin/python3; do
  [ -n "$py" ] || continue
  if "$py" -c 'import torch, numpy, PIL, h5py' 2>/dev/null; then
    echo "PyTorch engine: $py has torch $("$py" -c 'import torch; print(torch.__version__)')"
    exit 0
  fi
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "PyTorch engine: installing Debian's python3-torch (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread python3-numpy python3-pil python3-h5py >/dev/null
  /usr/bin/python3 -c 'import torch; print("PyTorch engine: torch", torch.__version__)'
else
  echo "PyTorch engine: no Python with torch, numpy, Pillow and h5py, and no apt-get as root to install one: its tests will be skipped"
fi
