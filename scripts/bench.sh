#!/usr/bin/env bash
# The benchmark (docs/performance.md): builds wclayer and wclayer-bench in release and runs
# `wclayer-bench run` with this script's arguments, e.g.
#   bash scripts/bench.sh                              # nanoserver-shaped layer, 3 rounds
#   bash scripts/bench.sh --profile core --rounds 1    # servercore-shaped, about 3 GB
#   bash scripts/bench.sh --only import,export --work /var/tmp/bench
#   bash scripts/bench.sh --only pull                  # registry pull vs skopeo + umoci
# `wclayer-bench run --help` lists the options. Needs GNU tar, gzip, pigz and GNU time
# (/usr/bin/time), and for the pull item skopeo, umoci and docker-registry; as root it
# installs pigz, time, skopeo, umoci and docker-registry with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet -p wclayer-cli -p wclayer-bench
exec cargo run --release --locked --quiet -p wclayer-bench -- run "$@"
