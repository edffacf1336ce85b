#!/usr/bin/env bash
# Makes sure a Node.js of at least the version package.json's `engines` asks
# for is first on PATH. Debian 12's own nodejs is 18, too old: on such a
# machine (or one with no Node at all) this installs Debian's nodejs + npm
# for npm itself, then Node.js 20 from the npm registry's node-linux-<arch>
# package into /usr/local (ahead of /usr/bin on PATH). As root it does that;
# otherwise it prints the commands to run and fails.
set -euo pipefail
NODE_MAJOR=20
NODE_PACKAGE_VERSION=20.20.2

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

[ "$(node_major)" -ge "$NODE_MAJOR" ] && exit 0

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "typevisor: needs Node.js >= $NODE_MAJOR; install it for $(uname -m) by hand" >&2; exit 1 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
  echo "typevisor: needs Node.js >= $NODE_MAJOR (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Debian 12's nodejs package is 18. Install Node.js $NODE_MAJOR as root with:" >&2
  echo "  sudo apt-get install -y nodejs npm && sudo npm install -g node-linux-$arch@$NODE_PACKAGE_VERSION" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! command -v npm >/dev/null; then
  echo "typevisor: installing Debian's nodejs and npm (to fetch Node.js $NODE_MAJOR)" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
echo "typevisor: installing Node.js $NODE_PACKAGE_VERSION (npm package node-linux-$arch) into /usr/local" >&2
npm install -g --prefix /usr/local --no-audit --no-fund "node-linux-$arch@$NODE_PACKAGE_VERSION" >&2
hash -r
if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
  echo "typevisor: installed Node.js $NODE_PACKAGE_VERSION as /usr/local/bin/node, but PATH finds $(command -v node) first" >&2
  exit 1
fi
