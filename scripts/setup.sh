#!/usr/bin/env bash
# Installs what building and testing callvault needs beyond a Rust toolchain, when the
# machine lacks it (Debian/Ubuntu): cmake, with which the Opus encoder builds libopus from
# its bundled sources, and the independent reference tools the audio tests compare against
# (sox decodes G.711 and encodes GSM; ffmpeg decodes the MP3 and WebM exports).
set -euo pipefail

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v sox >/dev/null 2>&1 || missing+=(sox)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
