#!/usr/bin/env bash
# The README's first command: builds wclayer and runs its main job on a built-in example:
# a generated Windows base layer and a delta layer on top of it, imported into layer
# directories, listed, and exported again with the bytes hcsshim would write.
# Needs only a Rust toolchain; everything it writes goes to a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --locked --quiet -p wclayer-cli
wclayer=$PWD/target/release/wclayer
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "== Two generated Windows layers (OCI layer tars): a base layer and a delta on top"
"$wclayer" sample base -o base.tar
"$wclayer" sample delta -o delta.tar
ls -l base.tar delta.tar

echo
echo "== Import them into layer directories (the delta names the base as its parent)"
"$wclayer" import -i base.tar base
"$wclayer" import -l base -i delta.tar delta
echo "the delta layer directory:"
ls -A delta delta/Files

echo
echo "== List the delta layer with its Windows metadata (first entries)"
"$wclayer" ls --long delta | head -n 24

echo
echo "== Export both again: the tar hcsshim writes for each layer, with its diffID"
"$wclayer" export -o base.export.tar base
"$wclayer" export --gzip -o delta.export.tar.gz delta
"$wclayer" convert base.tar base.convert.tar >/dev/null
cmp base.export.tar base.convert.tar
echo "base: import + export gives the same bytes as convert"

echo
echo "== Check the delta over its base for what Windows would refuse or change (first findings)"
"$wclayer" verify -l base delta.tar | head -n 6 || true
echo
echo "== Compare the exported delta with its layer directory: nothing differs"
"$wclayer" diff delta.export.tar.gz delta

echo
echo "== Make a layer from ordinary files over the base, reproducibly, and check it"
mkdir -p app/bin
printf 'hello from app\n' > app/readme.txt
printf 'MZ' > app/bin/app.exe
"$wclayer" create -l base --prefix Files/app --source-date-epoch 0 -o app.tar.gz app
"$wclayer" verify -l base app.tar.gz
"$wclayer" import -l base -i app.tar.gz app-layer >/dev/null
"$wclayer" cat -l base app-layer Files/app/readme.txt

echo
echo "== A security descriptor from a layer tar (MSWINDOWS.rawsd), as SDDL and back"
"$wclayer" sddl AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==
"$wclayer" sddl --to-binary 'O:BUG:BU'
