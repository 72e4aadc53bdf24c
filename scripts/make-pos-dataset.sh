#!/usr/bin/env bash
# Builds a small text-classification dataset from Debian's dict-gcide (the
# GNU Collaborative International Dictionary of English): the first
# definition of a headword -> the headword's part of speech (noun, verb,
# adjective), balanced, with a fixed train/test split.
#
#   scripts/make-pos-dataset.sh [OUT_DIR] [TRAIN_PER_CLASS] [TEST_PER_CLASS]
#
# Writes OUT_DIR/train.tsv and OUT_DIR/test.tsv (label<TAB>text, labels 0
# noun, 1 verb, 2 adjective) and OUT_DIR/labels.txt; the default OUT_DIR is
# ${OCLNN_DATA:-${XDG_DATA_HOME:-~/.local/share}/oclnn}/datasets/gcide-pos,
# 1000 train and 300 test rows per class. The same dictionary gives the same
# files (a fixed pseudo-random source drives shuf). Ready for
#   oclnn finetune bert --train OUT_DIR/train.tsv --test OUT_DIR/test.tsv
set -euo pipefail

. "$(dirname "$0")/gcide.sh"
dict=$gcide_dict
data="${OCLNN_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/oclnn}"
out="${1:-$data/datasets/gcide-pos}"
ntrain="${2:-1000}"
ntest="${3:-300}"

gcide_install make-pos-dataset
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Paragraph mode: an entry's first paragraph is "Word \pron\, POS [etym.]
# definition ... [1913 Webster]". Keep entries whose POS is exactly n., v. t.,
# v. i., v. or a.; drop the etymology, sense numbers, domain labels such as
# (Zool.), braces and the source tag; keep definitions of 4 to 40 words.
zcat "$dict" | LC_ALL=C awk '
BEGIN { RS = ""; FS = "\n" }
$1 ~ /^[A-Za-z][A-Za-z -]* \\[^\\]*\\, / {
    text = $0
    gsub(/\n[ ]*/, " ", text)
    head = text
    sub(/^[^\\]*\\[^\\]*\\, /, "", text)
    label = -1
    if (text ~ /^n\. /) { label = 0; sub(/^n\. /, "", text) }
    else if (text ~ /^v\. [ti]\. /) { label = 1; sub(/^v\. [ti]\. /, "", text) }
    else if (text ~ /^v\. /) { label = 1; sub(/^v\. /, "", text) }
    else if (text ~ /^a\. /) { label = 2; sub(/^a\. /, "", text) }
    if (label < 0) next
    while (text ~ /^\[/) { if (!sub(/^\[[^]]*\] */, "", text)) next }
    sub(/ *\[(1913 Webster|PJC|WordNet).*$/, "", text)
    sub(/^1\. */, "", text)
    while (text ~ /^\([^)]*\) */) sub(/^\([^)]*\) */, "", text)
    gsub(/[{}]/, "", text)
    gsub(/\t/, " ", text)
    sub(/ --[A-Z].*$/, "", text)
    sub(/ +$/, "", text)
    n = split(text, w, " ")
    if (n < 4 || n > 40 || text !~ /^[A-Za-z]/) next
    print label "\t" text
}' > "$tmp/all.tsv"

: > "$tmp/train.tsv"
: > "$tmp/test.tsv"
for label in 0 1 2; do
  grep "^$label	" "$tmp/all.tsv" | sort -u | shuf --random-source=<(yes) > "$tmp/class.tsv" || true
  have=$(wc -l < "$tmp/class.tsv")
  if [ "$have" -lt $((ntrain + ntest)) ]; then
    echo "make-pos-dataset: only $have definitions of class $label (asked for $((ntrain + ntest)))" >&2
    exit 1
  fi
  head -n "$ntrain" "$tmp/class.tsv" >> "$tmp/train.tsv"
  sed -n "$((ntrain + 1)),$((ntrain + ntest))p" "$tmp/class.tsv" >> "$tmp/test.tsv"
done
shuf --random-source=<(yes) "$tmp/train.tsv" > "$out/train.tsv"
shuf --random-source=<(yes) "$tmp/test.tsv" > "$out/test.tsv"
printf 'noun\nverb\nadjective\n' > "$out/labels.txt"
echo "make-pos-dataset: $(wc -l < "$out/train.tsv") train and $(wc -l < "$out/test.tsv") test rows (noun, verb, adjective; $(wc -l < "$tmp/all.tsv") definitions found)" >&2
echo "$out"
