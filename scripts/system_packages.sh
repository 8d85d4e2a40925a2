#!/usr/bin/env bash
# Debian packages the test suite uses: Chromium (browser tests), espeak-ng and
# sox (real speech for the voice-pipeline test), faketime (the clock check). Installed when missing and
# when we can (root with apt-get); otherwise say which tests will skip.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "warning: missing ${need[*]} (install with apt-get); tests that need them will skip"
fi
