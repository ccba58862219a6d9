#!/usr/bin/env bash
# Sets up a fresh machine: npm packages, then a WebGPU driver if Dawn finds no adapter.
# On a machine without a GPU that driver is Mesa's lavapipe (Vulkan on the CPU); Debian
# bookworm's own Mesa is too old for Dawn, the one in bookworm-backports (25.x) works.
# On a machine where Dawn already finds an adapter it installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if [ ! -d node_modules/webgpu ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
else
  say "npm packages already installed"
fi

if probe=$(node scripts/probe-webgpu.mjs 2>/dev/null); then
  say "$probe; no driver to install"
else
  say "Dawn finds no WebGPU adapter: installing Mesa's lavapipe from bookworm-backports"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      | as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
    say "added the bookworm-backports suite"
  fi
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null
  say "installed $(dpkg-query -W -f='mesa-vulkan-drivers ${Version}' mesa-vulkan-drivers)"
  probe=$(node scripts/probe-webgpu.mjs 2>/dev/null) || { say "still no WebGPU adapter after installing lavapipe"; exit 1; }
  say "$probe"
fi

# --- Browser (issue 6): Debian's chromium for test/browser.test.ts; a no-op once installed. ---
bash scripts/setup-browser.sh

# --- Slurm (issue 14): slurm-wlm and munge for test/slurm.test.ts; a no-op once installed. ---
bash scripts/setup-slurm.sh
