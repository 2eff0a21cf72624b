#!/usr/bin/env bash
# scripts/install.sh [--prefix DIR] [--uninstall]: builds brkmalloc in release mode (bazel build -c opt) and
# installs lib/libbrkmalloc.so, lib/libbrkmalloc.a, include/brkmalloc.h, lib/pkgconfig/brkmalloc.pc and
# bin/brkmalloc under DIR (default /usr/local), below $DESTDIR if set (for packagers).
# Every file and every directory it had to create goes in a manifest (share/brkmalloc/install-manifest),
# so a second run is harmless and --uninstall removes exactly what was installed, nothing else.
# The build leaves the workspace's bazel-* links alone (--symlink_prefix=/): a developer's bazel-bin stays
# the configuration they last built.
set -euo pipefail

prefix=/usr/local
action=install
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 2; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case $prefix in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path, not '$prefix'" >&2; exit 2 ;;
esac
prefix=${prefix%/}
root="${DESTDIR:-}$prefix"
manifest_rel=share/brkmalloc/install-manifest
manifest="$root/$manifest_rel"

uninstall() {
  if [ ! -f "$manifest" ]; then
    echo "install.sh: nothing to uninstall under $root (no $manifest_rel)" >&2
    exit 1
  fi
  local kind path dirs=() levels=0
  # Files first, then the directories we created, deepest first, each only if it is empty by then (a
  # file someone else put there keeps its directory).
  while read -r kind path; do
    case $kind in
      f) rm -f "$root/$path" ;;
      d) dirs+=("$path") ;;
      r) levels=$path ;;
    esac
  done < "$manifest"
  rm -f "$manifest"
  for path in $(printf '%s\n' "${dirs[@]}" | sort -r); do
    if [ -n "$path" ]; then rmdir "$root/$path" 2>/dev/null || true; fi
  done
  # Then the root and the ancestors the first install created, while they are empty.
  path=$root
  while [ "$levels" -gt 0 ] && rmdir "$path" 2>/dev/null; do
    path=$(dirname "$path")
    levels=$((levels - 1))
  done
  echo "brkmalloc uninstalled from $root"
}

if [ "$action" = uninstall ]; then
  uninstall
  exit 0
fi

cd "$(dirname "$0")/.."
targets=(//preload:libbrkmalloc.so //preload:libbrkmalloc.a)
echo "install.sh: bazel build -c opt ${targets[*]}"
bazel build -c opt --symlink_prefix=/ "${targets[@]}"
bin=$(bazel info -c opt --symlink_prefix=/ bazel-bin 2>/dev/null)
so="$bin/preload/libbrkmalloc.so"
archive="$bin/preload/libbrkmalloc.a"
[ -f "$so" ] && [ -f "$archive" ] || { echo "install.sh: build outputs missing in $bin" >&2; exit 1; }

version=$(sed -n 's/^version=//p' dist/brkmalloc.sh)

# What a program linked with the archive needs beside libc: libstdc++ if the archive refers to its
# runtime by a strong reference. Weak ones (how operator new reaches libstdc++'s throw support) bind
# when the program links libstdc++ itself, as every C++ program does, and need nothing from a C one.
libs_private=""
undefined=$(nm -u "$archive" | awk '$1 == "U" {print $2}')
if grep -Eq '^(__cxa_|__gxx_personality|_ZSt|_ZNSt|_ZTISt|_ZTVSt)' <<< "$undefined"; then
  libs_private="-lstdc++"
fi

# Directories already in the manifest were created by an earlier run; keep them listed.
declare -A created=()
root_levels=0
if [ -f "$manifest" ]; then
  while read -r kind path; do
    case $kind in
      d) created[$path]=1 ;;
      r) root_levels=$path ;;
    esac
  done < "$manifest"
fi
make_dir() {  # make_dir REL: creates $root/REL and its parents, noting the ones that did not exist
  local rel=$1 parts="" part parts_arr
  if [ ! -d "$root" ]; then  # the root and how many of its ancestors did not exist ("r N")
    local up=$root levels=0
    while [ ! -d "$up" ]; do up=$(dirname "$up"); levels=$((levels + 1)); done
    mkdir -p "$root"
    root_levels=$levels
  fi
  IFS=/ read -r -a parts_arr <<< "$rel"
  for part in "${parts_arr[@]}"; do
    parts=${parts:+$parts/}$part
    if [ ! -d "$root/$parts" ]; then
      mkdir "$root/$parts"
      created[$parts]=1
    fi
  done
}

files=()
put() {  # put MODE SOURCE REL
  make_dir "$(dirname "$3")"
  install -m "$1" "$2" "$root/$3"
  files+=("$3")
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s|@BRKMALLOC_LIBDIR@|$prefix/lib|" dist/brkmalloc.sh > "$tmp/brkmalloc"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" -e "s|@LIBS_PRIVATE@|$libs_private|" \
  dist/brkmalloc.pc.in > "$tmp/brkmalloc.pc"

put 0755 "$so" lib/libbrkmalloc.so
put 0644 "$archive" lib/libbrkmalloc.a
put 0644 allocator/brkmalloc.h include/brkmalloc.h
put 0644 "$tmp/brkmalloc.pc" lib/pkgconfig/brkmalloc.pc
put 0755 "$tmp/brkmalloc" bin/brkmalloc

make_dir "$(dirname "$manifest_rel")"
{
  [ "$root_levels" -eq 0 ] || echo "r $root_levels"
  for d in "${!created[@]}"; do echo "d $d"; done | sort
  for f in "${files[@]}"; do echo "f $f"; done
} > "$manifest"

# The system's library cache, for a real install into a standard prefix (not for a staged DESTDIR).
if [ -z "${DESTDIR:-}" ] && [ "$(id -u)" -eq 0 ] && { [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; }; then
  ldconfig || true
fi
echo "brkmalloc $version installed under $root"
