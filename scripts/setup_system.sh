#!/usr/bin/env bash
# System libraries for offscreen rendering with Slicer's displayable managers (Mesa EGL).
# Installs them with apt-get when missing (as root, or via sudo); prints what to do otherwise.
set -euo pipefail
PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri"
missing=""
for p in $PKGS; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "note: cannot install$missing (no apt-get); 2D/3D pictures need Mesa EGL libraries." >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "note: run as root or install:$missing (needed for the rendered pictures)" >&2; exit 0
  fi
fi
echo "installing system packages:$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
