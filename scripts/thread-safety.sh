#!/usr/bin/env bash
# Clang's thread-safety analysis (preset `clang-tsa`): compiles the daemon's library alone (no
# tests, no link) with -Wthread-safety -Werror=thread-safety, so that a read or write of state
# declared GUARDED_BY a lock without holding it, or a REQUIRES broken, fails. With ccache
# (CMAKE_CXX_COMPILER_LAUNCHER=ccache) and a warm cache, well under a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if [ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")
fi
# First, that the analysis is on and model/ThreadSafety.h feeds it: an unguarded read must fail.
probe=$(mktemp --suffix=.cpp)
trap 'rm -f "$probe"' EXIT
cat > "$probe" <<'CPP'
#include "model/ThreadSafety.h"
struct Probe {
  bulkwarden::model::Mutex mutex;
  int value GUARDED_BY(mutex) = 0;
  int unguarded() { return value; }
};
CPP
if clang++ -std=c++20 -fsyntax-only -Wthread-safety -Werror=thread-safety -Idaemon "$probe" \
  2>/dev/null; then
  echo "thread-safety: the analysis missed an unguarded read (model/ThreadSafety.h)" >&2
  exit 1
fi
cmake --preset clang-tsa "${launcher[@]}" >/dev/null
cmake --build --preset clang-tsa -j"${BULKWARDEN_JOBS:-$(nproc)}"
echo "thread-safety: no finding"
