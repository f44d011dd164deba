#!/usr/bin/env bash
# The README's first command: builds wclayer and runs its main job on built-in examples.
# Needs only a Rust toolchain; everything it writes goes to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet -p wclayer-cli
wclayer=target/release/wclayer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== A security descriptor from a layer tar (MSWINDOWS.rawsd), as SDDL and back"
$wclayer sddl AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==
$wclayer sddl --to-binary 'O:BUG:BU'

echo
echo "== A generated Windows base layer: Files/, Hives/, UtilityVM/Files/, SDs, EAs, ADS, links"
$wclayer sample base -o "$work/base.tar"
echo "first calls the import makes on a layer writer (wclayer trace):"
$wclayer trace "$work/base.tar" | head -n 3 | cut -c 1-160

echo
echo "== Import and export again: the tar hcsshim would write for this layer"
$wclayer convert "$work/base.tar" "$work/base.export.tar"
$wclayer convert "$work/base.export.tar" "$work/base.again.tar"
cmp "$work/base.export.tar" "$work/base.again.tar"
echo "exporting the export again gives the same bytes (same diffID)"
