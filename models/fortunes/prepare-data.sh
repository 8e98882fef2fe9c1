#!/usr/bin/env bash
# Builds the training data of the edgelm-fortunes model from Debian's fortune cookie packages:
# fortunes + fortunes-min (English, BSD-style licence) and fortunes-zh (Chinese, GPL-3.0+).
# Writes OUT/jsonl/en.jsonl and OUT/jsonl/zh.jsonl, one {"text": …} line per fortune, with terminal colour
# codes and other control characters removed, so the validation split holds whole fortunes of both
# languages; and OUT/text/en.txt, OUT/text/zh.txt, the same fortunes as plain text (the tokenizer was
# trained on these). Usage: models/fortunes/prepare-data.sh OUT   (needs apt-get, dpkg-deb and awk)
set -euo pipefail
out=${1:?usage: prepare-data.sh OUTDIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out/jsonl" "$out/text"
(cd "$work" && apt-get download fortunes fortunes-min fortunes-zh >/dev/null 2>&1)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/x"; done
dir="$work/x/usr/share/games/fortunes"

# fortune files: entries separated by lines holding only "%"
to_jsonl() {
  sed -e 's/\x1b\[[0-9;]*m//g' "$@" | tr -d '\000-\010\013-\037\177' |
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' | awk '
    function flush() { if (buf ~ /[^ \\tn]/) print "{\"text\": \"" buf "\"}"; buf = "" }
    /^%$/ { flush(); next }
    { buf = (buf == "" ? $0 : buf "\\n" $0) }
    END { flush() }'
}
en=()
for f in "$dir"/*; do
  case "$f" in *.dat|*.u8|*/chinese|*/tang300) ;; *) [ -f "$f" ] && en+=("$f") ;; esac
done
to_jsonl "${en[@]}" > "$out/jsonl/en.jsonl"
to_jsonl "$dir/chinese" "$dir/tang300" > "$out/jsonl/zh.jsonl"
plain() { sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^%$//' "$@"; }
plain "${en[@]}" > "$out/text/en.txt"
plain "$dir/chinese" "$dir/tang300" > "$out/text/zh.txt"
wc -l "$out/jsonl/en.jsonl" "$out/jsonl/zh.jsonl"
