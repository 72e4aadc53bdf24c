#!/usr/bin/env bash
# Builds a plain English text corpus for word2vec from Debian's dict-gcide
# (the GNU Collaborative International Dictionary of English: Webster's
# 1913 dictionary plus WordNet and later additions, GPL-licensed).
#
#   scripts/get-corpus.sh [OUT_FILE]
#
# Contents: every entry paragraph of the dictionary (headwords, definitions,
# usage notes and quotations) with its markup stripped: pronunciations
# (\Ab*do"men\), bracketed etymologies and source tags ([L. abdomen ...],
# [1913 Webster]) and braces are removed, the text is lower-cased and every
# character other than a-z becomes a space, except an apostrophe or hyphen
# between two letters (don't, well-known). One paragraph per line, tokens
# separated by single spaces: about 4.2 million words (24 MB, 252,000 lines).
#
# The default OUT_FILE is
#   ${OCLNN_DATA:-${XDG_DATA_HOME:-~/.local/share}/oclnn}/corpus/gcide.txt
# An existing OUT_FILE is kept (it is only ever written whole: a temporary
# file renamed at the end), so running the script again costs nothing.
# Prints the path on stdout and the word count on stderr. Ready for
#   oclnn word2vec --corpus OUT_FILE --output vectors.bin
set -euo pipefail

. "$(dirname "$0")/gcide.sh"
dict=$gcide_dict
data="${OCLNN_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/oclnn}"
out="${1:-$data/corpus/gcide.txt}"

if [ -s "$out" ]; then
  echo "get-corpus: $out exists ($(wc -w < "$out") words)" >&2
  echo "$out"
  exit 0
fi
gcide_install get-corpus
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# Paragraph mode (RS = ""): one dictionary paragraph -> one line. The
# dictd header entries (00-database-*) are skipped.
zcat "$dict" | LC_ALL=C awk '
BEGIN { RS = ""; FS = "\n" }
/^00-?database/ { next }
{
    text = $0
    gsub(/\n/, " ", text)
    gsub(/\\[^\\]*\\/, " ", text)
    gsub(/\[[^]]*\]/, " ", text)
    text = tolower(text)
    gsub(/[^a-z'"'"'-]+/, " ", text)
    gsub(/--+/, " ", text)
    gsub(/ ['"'"'-]+/, " ", text)
    gsub(/['"'"'-]+ /, " ", text)
    text = " " text " "
    gsub(/ ['"'"'-]+/, " ", text)
    gsub(/['"'"'-]+ /, " ", text)
    gsub(/  +/, " ", text)
    sub(/^ /, "", text)
    sub(/ $/, "", text)
    if (text != "") print text
}' > "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "get-corpus: $out: $(wc -l < "$out") lines, $(wc -w < "$out") words" >&2
echo "$out"
