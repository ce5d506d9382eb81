#!/usr/bin/env bash
# Installs what the end-to-end tests need, idempotent and quick when done: Debian's Chromium and
# build headers, and code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) in a
# cache folder outside the project's dependencies. usage: scripts/e2e/setup.sh
set -euo pipefail
cache="${DISTILL_CACHE:-$HOME/.cache/distill-studio}/code-server-4.100.3"
bin="$cache/node_modules/.bin/code-server"
if [ -x "$bin" ] && [ -f "$cache/.postinstall-done" ] && [ -x /usr/bin/chromium ]; then echo "e2e setup: code-server and chromium already installed"; echo "$bin"; exit 0; fi

if command -v apt-get >/dev/null; then
  need=()
  for p in chromium libkrb5-dev libsecret-1-dev libxkbfile-dev libx11-dev pkg-config ripgrep; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
  if [ ${#need[@]} -gt 0 ]; then
    echo "e2e setup: apt-get install ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

if [ ! -x "$bin" ]; then
  echo "e2e setup: installing code-server 4.100.3 into $cache (about 3 minutes)"
  # @vscode/ripgrep downloads rg from GitHub at install: seed its cache with Debian's rg instead.
  rgcache="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rgcache" "$cache"
  tar czf "$rgcache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$(command -v rg)")" rg
  # root needs unsafe-perm for its postinstall; yes lets node-pty's npx call run without a prompt.
  (cd "$cache" && npm_config_yes=true npm_config_unsafe_perm=true npm_config_dangerously_allow_all_scripts=true npm install --no-audit --no-fund --prefix "$cache" code-server@4.100.3 >"$cache/install.log" 2>&1) \
    || { echo "e2e setup: code-server install failed; see $cache/install.log" >&2; exit 1; }
  # Install scripts were allowed, so code-server's postinstall (VS Code's native modules) ran.
  touch "$cache/.postinstall-done"
fi
if [ ! -f "$cache/.postinstall-done" ]; then
  # An install made without install scripts (npm 11 skips unapproved ones): run code-server's own.
  echo "e2e setup: building code-server's native modules (its postinstall)"
  (cd "$cache/node_modules/code-server" && npm_config_yes=true npm_config_unsafe_perm=true npm_config_dangerously_allow_all_scripts=true npm run postinstall >"$cache/postinstall.log" 2>&1) \
    || { echo "e2e setup: code-server postinstall failed; see $cache/postinstall.log" >&2; exit 1; }
  touch "$cache/.postinstall-done"
fi
echo "$bin"
