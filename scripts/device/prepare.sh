#!/usr/bin/env bash
# Builds device-bundle/: what scripts/device/gpu-check.sh needs on a Linux x86-64 machine with an
# NVIDIA GPU and no network, no npm and maybe no node. Run it here, where node_modules and apt are.
#   device-bundle/dist/trainer/cli.js           the trainer, one file, every JS dependency inside
#   device-bundle/dist/trainer/device-check.js  the check's helper (adapter probe, timed runs, report)
#   device-bundle/dist/trainer/*.wasm           tfjs wasm binaries (found beside the bundle)
#   device-bundle/dawn/dawn.node.xz             Dawn's linux-x64 addon, unpacked at run time
#   device-bundle/vulkan/libvulkan.so.1         Debian's libvulkan1 (the Vulkan loader), for LD_LIBRARY_PATH
#   device-bundle/node/node.xz                  this machine's node, used only where none >= 20 is installed
#   device-bundle/tools/busybox                 static busybox: unxz where the device has no xz
#   device-bundle/media/demo/, configs/         demo data and teacher; the check's two configs
# usage: scripts/device/prepare.sh [--worktree]   (about 1 minute; the compressed node is cached in .cache/)
#   The sources come from the last commit (HEAD), so others' unfinished edits stay out of the
#   bundle; --worktree bundles the working tree as it is instead.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=$repo/device-bundle
cache=$repo/.cache/device-bundle
mkdir -p "$cache"
rm -rf "$out"
mkdir -p "$out/dist/trainer" "$out/dawn" "$out/vulkan" "$out/node" "$out/tools" "$out/media" "$out/configs"

if [ "${1:-}" = --worktree ]; then
  src=$repo
  origin="the working tree at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src scripts/device media || echo ', with uncommitted changes')"
else
  src=$(mktemp -d)
  trap 'rm -rf "$src"' EXIT
  git archive HEAD src scripts/device media package.json | tar -x -C "$src"
  ln -s "$repo/node_modules" "$src/node_modules"
  origin="commit $(git rev-parse --short HEAD)"
fi
echo "prepare: bundling the trainer and the check's helper from $origin"
(cd "$src" && node scripts/device/build-bundle.mjs "$out")
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/dist/trainer/"
# paths.ts finds the demo files from the nearest package.json named distill-studio.
node -e 'const p = require(process.argv[1]); console.log(JSON.stringify({ name: p.name, version: p.version, private: true, description: "device bundle of the trainer (scripts/device/prepare.sh)" }, null, 2))' "$src/package.json" > "$out/package.json"
cp -r "$src/media/demo" "$out/media/demo"
rm -f "$out"/media/demo/.*.distill.json
cp "$src/media/distill.schema.json" "$out/media/"
cp "$src"/scripts/device/configs/*.distill.json "$out/configs/"

echo "prepare: Dawn's addon (xz)"
xz -9 -T0 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$out/dawn/dawn.node.xz"

# Debian packages, downloaded once (bookworm; same machine type as the device: amd64).
for pkg in libvulkan1 busybox-static; do
  if ! ls "$cache/${pkg}_"*.deb >/dev/null 2>&1; then
    (cd "$cache" && apt-get download "$pkg")
  fi
done
tmp=$(mktemp -d)
dpkg-deb -x "$cache"/libvulkan1_*.deb "$tmp"
dpkg-deb -x "$cache"/busybox-static_*.deb "$tmp"
# Only the two files, as plain files (libvulkan.so.1 is a symlink in the package; links may not travel).
cp -L "$tmp/usr/lib/x86_64-linux-gnu/libvulkan.so.1" "$out/vulkan/"
cp "$tmp/bin/busybox" "$out/tools/busybox"
rm -rf "$tmp"

node_bin=$(readlink -f "$(command -v node)")
node_version=$(node --version)
node_xz="$cache/node-$node_version-$(sha256sum "$node_bin" | cut -c1-12).xz"
if [ ! -f "$node_xz" ]; then
  echo "prepare: compressing $node_bin ($node_version) with xz (once; cached in $cache)"
  xz -9 -T0 -c "$node_bin" > "$node_xz.tmp" && mv "$node_xz.tmp" "$node_xz"
fi
cp "$node_xz" "$out/node/node.xz"
echo "$node_version" > "$out/node/VERSION"

cat > "$out/README.txt" <<EOF
Distill Studio device bundle, built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $origin.
Run from the repository root: bash scripts/device/gpu-check.sh  (see docs/performance.md, "GPU check").
node: $node_version (used only where the machine has no node >= 20); libvulkan1: $(basename "$cache"/libvulkan1_*.deb);
busybox: $(basename "$cache"/busybox-static_*.deb); dawn.node from the npm package webgpu $(node -p 'require("./node_modules/webgpu/package.json").version').
EOF
(cd "$out" && find . -type f ! -name MANIFEST -print0 | sort -z | xargs -0 sha256sum > MANIFEST)

size=$(du -sm "$out" | cut -f1)
du -ah device-bundle | sort -k2 | awk '$2 == "device-bundle" || $2 ~ /\/(dist\/trainer\/[^/]+|dawn\/[^/]+|node\/node.xz|tools\/busybox|media|configs|vulkan)$/'
echo "prepare: device-bundle is $size MiB (limit 64 MiB)"
if [ "$size" -ge 60 ]; then
  echo "prepare: device-bundle is too large to travel" >&2
  exit 1
fi
