#!/usr/bin/env bash
# Builds the native `tensorflow` backend (@tensorflow/tfjs-node) without Google's storage: its
# addon is compiled against the TensorFlow C library inside the tensorflow-cpu pip wheel.
# For machines where tfjs-node's own install cannot download libtensorflow (offline, proxies,
# Node versions with no prebuilt addon). Idempotent; the ~800 MB library is kept in a cache
# folder outside the project. usage: scripts/setup-native-tfjs.sh [--python python3]
set -euo pipefail
python=python3
[ "${1:-}" = "--python" ] && python="$2"
cd "$(dirname "$0")/.."
root=$PWD
pkg=node_modules/@tensorflow/tfjs-node
tf_version=2.21.0
cache="${DISTILL_CACHE:-$HOME/.cache/distill-studio}/libtensorflow-$tf_version"
check() { node -e "process.env.TF_CPP_MIN_LOG_LEVEL='2'; const tf=require('@tensorflow/tfjs-node'); process.exit(tf.getBackend()==='tensorflow'?0:1)" 2>/dev/null; }

[ -d node_modules ] || { echo "setup-native-tfjs: node_modules is missing; run npm ci first" >&2; exit 2; }
if [ ! -d "$pkg" ]; then
  # npm ci removes it when its own install (the download) fails: fetch the package without that script.
  version=$(node -p "require('./package.json').optionalDependencies['@tensorflow/tfjs-node']")
  echo "setup-native-tfjs: installing @tensorflow/tfjs-node@$version without its download script"
  npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$version" >/dev/null
fi
if check; then echo "setup-native-tfjs: the tensorflow backend already loads"; exit 0; fi

if [ ! -f "$cache/complete" ]; then
  echo "setup-native-tfjs: fetching tensorflow-cpu==$tf_version with pip (its C library, ~800 MB unpacked)"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  "$python" -m pip download --quiet --no-deps --disable-pip-version-check "tensorflow-cpu==$tf_version" -d "$tmp" \
    || { echo "setup-native-tfjs: pip could not download tensorflow-cpu==$tf_version" >&2; exit 1; }
  wheel=$(ls "$tmp"/tensorflow_cpu-*.whl)
  mkdir -p "$tmp/x"
  "$python" - "$wheel" "$tmp/x" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for n in z.namelist():
        if n in ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2') or \
           any(n.startswith(f'tensorflow/include/{d}/') for d in ('tensorflow/c', 'tensorflow/core/platform', 'tensorflow/tsl', 'tsl', 'xla/tsl')):
            z.extract(n, out)
PY
  mkdir -p "$cache.partial/lib" "$cache.partial/include"
  mv "$tmp/x/tensorflow/libtensorflow_cc.so.2" "$tmp/x/tensorflow/libtensorflow_framework.so.2" "$cache.partial/lib/"
  cp -r "$tmp/x/tensorflow/include/." "$cache.partial/include/"
  touch "$cache.partial/complete"
  rm -rf "$cache"; mv "$cache.partial" "$cache"
fi

echo "setup-native-tfjs: linking libtensorflow into $pkg/deps"
rm -rf "$pkg/deps"; mkdir -p "$pkg/deps/lib"
ln -s "$cache/include" "$pkg/deps/include"
ln -s "$cache/lib/libtensorflow_cc.so.2" "$pkg/deps/lib/libtensorflow_cc.so.2"
ln -s "$cache/lib/libtensorflow_framework.so.2" "$pkg/deps/lib/libtensorflow_framework.so.2"
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so"
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so.2.9.1"
ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"

echo "setup-native-tfjs: compiling the addon with node-gyp"
gyp="$(dirname "$(command -v npm)")/../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp=$(command -v node-gyp)
napi=$(node -p "process.versions.napi >= 8 ? 8 : process.versions.napi")
nodedir=$(npm config get nodedir 2>/dev/null || true); [ -n "$nodedir" ] && [ "$nodedir" != undefined ] && [ -f "$nodedir/include/node/node_api.h" ] || nodedir=$(dirname "$(dirname "$(command -v node)")")
(cd "$pkg" && node "$gyp" rebuild --nodedir="$nodedir" --module_name=tfjs_binding --module_path="$root/$pkg/lib/napi-v$napi" --napi_build_version="$napi" --silent > "$root/.native-build.log" 2>&1) \
  || { echo "setup-native-tfjs: node-gyp failed; see .native-build.log" >&2; exit 1; }
rm -f "$root/.native-build.log"

check || { echo "setup-native-tfjs: built, but @tensorflow/tfjs-node still does not load" >&2; exit 1; }
echo "setup-native-tfjs: ok, the tensorflow backend loads (TensorFlow $tf_version C library)"
