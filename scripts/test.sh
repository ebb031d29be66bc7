#!/usr/bin/env bash
# Runs the whole test suite: every test on the default SQLite catalog (the store's own tests
# also run on PostgreSQL when one is reachable), then the server's end-to-end tests a second
# time with the catalog on PostgreSQL. Installs what the build and the tests need first
# (scripts/setup.sh: cmake for libopus; sox and ffmpeg, the reference tools; chromium and
# playwright-core for the browser test of the supervisor page).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# The PostgreSQL run needs the local server (127.0.0.1:5432, user postgres, trust auth);
# start it if it is installed but not running. It must be there: the run fails without it.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ -d /etc/postgresql ] && command -v pg_ctlcluster >/dev/null 2>&1; then
        echo "starting PostgreSQL"
        if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
        for version in /etc/postgresql/*; do
            $SUDO pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
        done
        for _ in $(seq 1 30); do
            pg_isready -q -h 127.0.0.1 -p 5432 && break
            sleep 1
        done
    fi
    if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
        echo "error: PostgreSQL is not reachable at 127.0.0.1:5432, and the end-to-end tests must also run on it" >&2
        exit 1
    fi
fi

cargo test --workspace --all-targets "$@"

echo "end-to-end tests again, catalog on PostgreSQL"
CALLVAULT_TEST_BACKEND=postgres cargo test -p callvault-server --tests "$@"
