#!/usr/bin/env bash
# Installs Debian's slurm-wlm and munge for test/slurm.test.ts, which starts a one-node cluster
# with scripts/slurm-cluster.sh. Only as root (or with sudo): without them the test skips with a
# message. The packages' own services are not used (and not started where there is no systemd).
set -euo pipefail
say() { printf 'setup-slurm: %s\n' "$*"; }
if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
  say "slurm-wlm and munge already installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
  say "not root and no sudo: not installing slurm-wlm and munge (test/slurm.test.ts will skip)"
  exit 0
fi
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say "installing slurm-wlm and munge"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
say "installed $(dpkg-query -W -f='slurm-wlm ${Version}' slurm-wlm), $(dpkg-query -W -f='munge ${Version}' munge)"
