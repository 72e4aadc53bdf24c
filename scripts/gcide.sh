# Sourced by the scripts that read Debian's dict-gcide (make-pos-dataset.sh,
# get-corpus.sh): sets $gcide_dict and installs the package when missing.
# $1: the calling script's name for messages.
gcide_dict=/usr/share/dictd/gcide.dict.dz

gcide_install() {
  local who="$1"
  [ -f "$gcide_dict" ] && return 0
  # The dictionary is a Debian package like every other dependency.
  local SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "$who: need root to install dict-gcide" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "$who: installing dict-gcide" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends dict-gcide
  [ -f "$gcide_dict" ] || { echo "$who: $gcide_dict is still missing after installing dict-gcide" >&2; exit 1; }
}
