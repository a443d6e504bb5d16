#!/usr/bin/env bash
# The HTML audit report is checked in headless Chromium (Debian package `chromium`).
# Install it when missing and we may (root); otherwise say how, and the test skips
# (under CI=true it fails instead).
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the HTML report test..."
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null && exit 0
fi
echo "note: chromium is not installed; the HTML report test will be skipped (apt-get install -y chromium)" >&2
exit 0
