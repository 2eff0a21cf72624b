#!/bin/sh
# brkmalloc [options] [--] PROGRAM [ARGS...]: runs PROGRAM on brkmalloc. It puts libbrkmalloc.so first in
# LD_PRELOAD (keeping what the user had there), turns the options into BRKMALLOC_* variables and execs the
# program, so the exit status and any signal are the program's own (no shell stays in between).
#
# The library is found, in this order: where scripts/install.sh installed it (it writes the path below),
# in Bazel's runfiles (bazel run //:brkmalloc, bazel-bin/brkmalloc), or in the build tree beside this file
# (dist/brkmalloc.sh with bazel-bin/preload/libbrkmalloc.so).
version=0.1.0
installed_lib="@BRKMALLOC_LIBDIR@/libbrkmalloc.so"

me=brkmalloc

usage() {
  cat <<USAGE
Usage: $me [options] [--] PROGRAM [ARGS...]
Runs PROGRAM (and the programs it starts) with the brkmalloc allocator preloaded.

Options (each sets the environment variable shown; see README "Configuration"):
  --stats              print allocator statistics on stderr at exit    BRKMALLOC_STATS=1
  --threshold SIZE     requests above SIZE bytes (K, M, G) get their own mapping
                                                                        BRKMALLOC_MMAP_THRESHOLD=SIZE
  --purge-delay MS     freed pages stay resident MS milliseconds       BRKMALLOC_PURGE_DELAY_MS=MS
  --checks full|hardened|default
                       full: every integrity check on every call       BRKMALLOC_CHECKS=full
                       hardened: also canaries, guard pages, zero-on-free, quarantine
  --hardened           same as --checks hardened                       BRKMALLOC_CHECKS=hardened
  --hugepages          transparent huge pages on the arenas            BRKMALLOC_HUGEPAGES=1
  --profile DIR        sampled heap profiles DIR/PROGRAM.<pid>.<seq>.heap (google-pprof reads them)
                                                                        BRKMALLOC_PROFILE=DIR/PROGRAM
  --profile-rate SIZE  one sample per SIZE bytes allocated on average  BRKMALLOC_PROFILE_RATE=SIZE
  --leaks              leak report (live sampled sites) on stderr at exit
                                                                        BRKMALLOC_LEAKS=1
  --version            print the version and the library used, then exit
  -h, --help           print this help, then exit

The exit status is PROGRAM's; 125 for a usage error, 126/127 if PROGRAM cannot be run.
USAGE
}

die_usage() {
  echo "$me: $*" >&2
  echo "Try '$me --help'." >&2
  exit 125
}

# Absolute path of an existing file (LD_PRELOAD is read again by every program started from another directory).
absolute() {
  (cd "$(dirname "$1")" 2>/dev/null && printf '%s/%s\n' "$(pwd -P)" "$(basename "$1")")
}

find_lib() {
  case $installed_lib in
    @*) ;;  # not installed: the placeholder is still there
    *) [ -f "$installed_lib" ] && { echo "$installed_lib"; return 0; } ;;
  esac
  for candidate in "${RUNFILES_DIR:-$0.runfiles}/brkmalloc/preload/libbrkmalloc.so" \
                   "$(dirname "$0")/../bazel-bin/preload/libbrkmalloc.so"; do
    [ -f "$candidate" ] && { absolute "$candidate"; return 0; }
  done
  return 1
}

# Option values come as "--name VALUE" or "--name=VALUE".
need_value() {
  [ -n "$2" ] || die_usage "option $1 needs a value"
}

while [ $# -gt 0 ]; do
  opt=$1
  case $opt in
    --*=*) name=${opt%%=*}; value=${opt#*=}; shift; has_value=1 ;;
    *) name=$opt; value=; has_value=0; shift ;;
  esac
  case $name in
    --stats) [ $has_value -eq 0 ] || die_usage "option $name takes no value"; export BRKMALLOC_STATS=1 ;;
    --hugepages) [ $has_value -eq 0 ] || die_usage "option $name takes no value"; export BRKMALLOC_HUGEPAGES=1 ;;
    --hardened) [ $has_value -eq 0 ] || die_usage "option $name takes no value"; export BRKMALLOC_CHECKS=hardened ;;
    --leaks) [ $has_value -eq 0 ] || die_usage "option $name takes no value"; export BRKMALLOC_LEAKS=1 ;;
    --threshold|--purge-delay|--checks|--profile|--profile-rate)
      if [ $has_value -eq 0 ]; then
        [ $# -gt 0 ] || die_usage "option $name needs a value"
        value=$1
        shift
      fi
      need_value "$name" "$value"
      case $name in
        --threshold) export BRKMALLOC_MMAP_THRESHOLD="$value" ;;
        --purge-delay) export BRKMALLOC_PURGE_DELAY_MS="$value" ;;
        --profile) profile_dir=$value ;;
        --profile-rate) export BRKMALLOC_PROFILE_RATE="$value" ;;
        --checks)
          case $value in
            full|hardened|default) export BRKMALLOC_CHECKS="$value" ;;
            *) die_usage "--checks takes full, hardened or default, not '$value'" ;;
          esac ;;
      esac ;;
    --version)
      lib=$(find_lib) || lib="(libbrkmalloc.so not found)"
      echo "brkmalloc $version ($lib)"
      exit 0 ;;
    -h|--help) usage; exit 0 ;;
    --) break ;;
    -*) die_usage "unknown option '$opt'" ;;
    *) set -- "$opt" "$@"; break ;;
  esac
done

[ $# -gt 0 ] || die_usage "no program given"

# The profiles are named for the program; the directory is made here and passed on absolute (the program
# may change its working directory).
if [ -n "${profile_dir:-}" ]; then
  mkdir -p "$profile_dir" || die_usage "cannot create the profile directory '$profile_dir'"
  profile_dir=$(cd "$profile_dir" && pwd -P) || die_usage "cannot enter '$profile_dir'"
  export BRKMALLOC_PROFILE="$profile_dir/$(basename "$1")"
fi

lib=$(find_lib) || {
  echo "$me: libbrkmalloc.so not found (install with scripts/install.sh, or bazel build //preload:libbrkmalloc.so)" >&2
  exit 127
}
export LD_PRELOAD="$lib${LD_PRELOAD:+:$LD_PRELOAD}"
# Under bazel run the working directory is the runfiles tree; the user's PROGRAM path is relative to theirs.
if [ -n "${BUILD_WORKING_DIRECTORY:-}" ]; then
  cd "$BUILD_WORKING_DIRECTORY" || exit 125
fi
exec "$@"
