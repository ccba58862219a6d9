#!/usr/bin/env bash
# Installs Debian's `chromium` for the headless-browser test (test/browser.test.ts), which runs
# the `lrp web` page on Chromium's own SwiftShader WebGPU adapter. Debian's package, not
# playwright's browser download (which fetches from a CDN this project does not rely on);
# playwright-core only drives it. Does nothing, quickly, when Chromium is already there.
# LRP_CHROMIUM names another binary (the test reads it too).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup-browser: %s\n' "$*"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

chromium=${LRP_CHROMIUM:-/usr/bin/chromium}
if [ -x "$chromium" ]; then
  # Debian's launcher script prints a harmless shell warning on stderr; keep only the version.
  say "$("$chromium" --version 2>/dev/null || echo "$chromium") already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  say "no apt-get here: install Chromium and set LRP_CHROMIUM=/path/to/chromium (the browser test skips without it)"
  exit 0
fi
# The package lists may be missing on a fresh image; refresh them only then.
policy=$(apt-cache policy chromium 2>/dev/null || true)
if ! grep -q 'Candidate: [0-9]' <<<"$policy"; then
  say "refreshing the package lists (apt-get update)"
  as_root apt-get update -qq
fi
say "installing chromium (apt-get install chromium)"
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null
say "installed $("$chromium" --version 2>/dev/null || dpkg-query -W -f='chromium ${Version}' chromium)"
