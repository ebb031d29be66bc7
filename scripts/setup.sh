#!/usr/bin/env bash
# Installs what building and testing callvault needs beyond a Rust toolchain, when the
# machine lacks it (Debian/Ubuntu): cmake, with which the Opus encoder builds libopus from
# its bundled sources, and the independent reference tools the audio tests compare against
# (sox decodes G.711 and encodes GSM; ffmpeg decodes the MP3 and WebM exports; lame and
# opusenc are the encode benchmark's baselines, which the test run also runs briefly), the
# Python modules the delivery tests use, and what the browser test of the supervisor page
# drives: Debian's chromium, node and npm, and the pinned npm packages of
# crates/server/tests/browser.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v sox >/dev/null 2>&1 || missing+=(sox)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v lame >/dev/null 2>&1 || missing+=(lame)
command -v opusenc >/dev/null 2>&1 || missing+=(opus-tools)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python modules the delivery tests use: pyzipper opens the AES-encrypted ZIP exports,
# aiosmtpd is the SMTP server EMAILEXPORT sends to.
py_missing=()
for module in pyzipper aiosmtpd; do
    python3 -c "import $module" >/dev/null 2>&1 || py_missing+=("$module")
done
if [ ${#py_missing[@]} -gt 0 ]; then
    echo "installing python modules ${py_missing[*]}"
    python3 -m pip install --quiet "${py_missing[@]}" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "${py_missing[@]}"
fi

# playwright-core, as package-lock.json pins it; it drives the chromium installed above.
if [ ! -d crates/server/tests/browser/node_modules ]; then
    echo "installing the browser test's npm packages"
    (cd crates/server/tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi
