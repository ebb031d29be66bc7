#!/usr/bin/env bash
# Runs the whole test suite. Installs the independent reference tools the tests compare
# against (sox decodes G.711 for the audio checks) when the machine lacks them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v sox >/dev/null 2>&1; then
    echo "installing sox (reference decoder for the audio tests)"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends sox >/dev/null
fi

cargo test --workspace --all-targets "$@"
