#!/usr/bin/env bash
# Installs the Debian 12 packages bulkwarden builds and tests with, only those missing.
# systemd gives systemd-analyze (the unit gates in .ci/run); dpkg-dev and file let CPack compute
# the .deb's Depends (dpkg-shlibdeps); debootstrap, curl and iproute2 (ss) serve
# scripts/systemd-boot-test.sh; libfaketime steps one daemon's wall clock in the cluster tests;
# ccache keeps CI's five builds (dev, package, tsan, fuzz) cheap when they run again.
# Runs as root (or through sudo). Safe to run again: it does nothing when all are present.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git ca-certificates
  libpoco-dev libssl-dev libyaml-cpp-dev libfmt-dev libre2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsystemd-dev prometheus-cpp-dev libpq-dev postgresql libfaketime
  clang-format clang libclang-rt-14-dev tzdata ccache
  systemd dpkg-dev file procps man-db debootstrap curl iproute2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "bulkwarden: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
