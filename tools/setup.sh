#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine for building and testing mofa-web.
# Run as root from anywhere (CI: `bash .ci/run`); non-interactive. Needs Node ≥ 20 on PATH.
#   - apt: chromium (headless WebGPU on SwiftShader for test/browser), python3-numpy,
#     python3-scipy, python3-onnx (tools/ tests and test/fixtures generators)
#   - npm ci (exact versions from package-lock.json), then npm run build (wasm + rollup)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

APT_PACKAGES=(chromium python3-numpy python3-scipy python3-onnx)

if ! command -v node >/dev/null 2>&1; then
  echo "setup.sh: node is not installed; install Node.js >= 20 first." >&2
  exit 1
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup.sh: Node.js $(node --version) is too old; mofa-web needs >= 20." >&2
  exit 1
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: missing apt packages (${missing[*]}); run as root or install them." >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
fi

npm ci --no-audit --no-fund
npm run build
