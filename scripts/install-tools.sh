#!/usr/bin/env bash
# Installs the tools the observability tests need, when missing:
#   promtool (Debian package `prometheus`), amtool (`prometheus-alertmanager`) and openssl
#   (certificates for the NATS TLS test).
# Idempotent: does nothing when both are on PATH; runs `apt-get update` only when a package
# is not installable from the current package lists. Works as root, or through sudo.
set -euo pipefail

declare -A PACKAGE_OF=([promtool]=prometheus [amtool]=prometheus-alertmanager [openssl]=openssl)

missing=()
for tool in promtool amtool openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${PACKAGE_OF[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-tools: promtool, amtool and openssl already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-tools: need ${missing[*]} but apt-get is not available; install them by hand" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-tools: need root (or sudo) to install ${missing[*]}" >&2
  exit 1
fi

installable() {
  # A package is installable when the package lists know a candidate version for it.
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

for package in "${missing[@]}"; do
  if ! installable "$package"; then
    echo "install-tools: updating package lists"
    "${as_root[@]}" apt-get update -qq
    break
  fi
done

echo "install-tools: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
for tool in promtool amtool openssl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "install-tools: $tool still missing" >&2; exit 1; }
done
echo "install-tools: $(promtool --version 2>&1 | head -n1)"
echo "install-tools: $(amtool --version 2>&1 | head -n1)"
