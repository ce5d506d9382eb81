#!/usr/bin/env bash
# Builds the native `tensorflow` backend (@tensorflow/tfjs-node) without Google's storage: the
# addon is compiled against the TensorFlow C library inside the tensorflow-cpu pip wheel.
# For Linux machines where tfjs-node's own install cannot download libtensorflow (offline, proxies,
# Node versions with no prebuilt addon). Idempotent: a second run only checks. The ~800 MB library
# is kept in ${DISTILL_CACHE:-~/.cache/distill-studio}, outside the project. See docs/native-backend.md.
#
# usage: scripts/setup-native-tfjs.sh [--python PYTHON] [--wheel FILE] [--prefix DIR]
#   --python PYTHON  the Python whose pip downloads the wheel (default python3)
#   --wheel FILE     use this tensorflow-cpu 2.21.0 wheel instead of downloading it
#   --prefix DIR     build it in DIR/node_modules instead of the project's (for DISTILL_NATIVE_DIR=DIR)
#
# With --prefix, DIR keeps only @tensorflow/tfjs-node: its own @tensorflow/tfjs* dependencies are
# deleted, and the checks load them from this project's node_modules, as the trainer does (one
# tfjs-core; see src/core/nativeModules.ts).
set -euo pipefail

tf_version=2.21.0
python=python3
wheel=
prefix=
say() { echo "setup-native-tfjs: $*"; }
die() { echo "setup-native-tfjs: error: $*" >&2; exit 1; }
usage() { sed -n '8,15s/^# \{0,1\}//p' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --python) [ $# -ge 2 ] || die "--python needs a value"; python=$2; shift 2 ;;
    --python=*) python=${1#*=}; shift ;;
    --wheel) [ $# -ge 2 ] || die "--wheel needs a value"; wheel=$(realpath -m -- "$2"); shift 2 ;;
    --wheel=*) wheel=$(realpath -m -- "${1#*=}"); shift ;;
    --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix=$(realpath -m -- "$2"); shift 2 ;;
    --prefix=*) prefix=$(realpath -m -- "${1#*=}"); shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

start=$SECONDS
cd "$(dirname "$0")/.."
root=$PWD
# Where tfjs-node is built: the project's node_modules, or DIR's with --prefix DIR.
home=${prefix:-$root}
pkg=$home/node_modules/@tensorflow/tfjs-node
cache="${DISTILL_CACHE:-$HOME/.cache/distill-studio}/libtensorflow-$tf_version"
# TensorFlow prints INFO lines at load (oneDNN, CPU features) that TF_CPP_MIN_LOG_LEVEL does not
# all silence: the checks keep stderr and show it only when they fail.
err=$(mktemp); tmp=
trap 'rm -rf "$err" ${tmp:+"$tmp"}' EXIT
# node run from where tfjs-node is; with --prefix, @tensorflow/tfjs comes from the project's node_modules.
node_there() {
  if [ -n "$prefix" ]; then (cd "$prefix" && NODE_PATH="$root/node_modules${NODE_PATH:+:$NODE_PATH}" node "$@")
  else node "$@"; fi
}
loads() {
  TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} node_there -e "
    const tf = require('@tensorflow/tfjs-node');
    process.exit(tf.getBackend() === 'tensorflow' ? 0 : 1)" 2>"$err"
}
# One training step of a small conv net: exercises the convolution gradients wasm lacks.
train_step() {
  TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2} node_there -e "
    const tf = require('@tensorflow/tfjs-node');
    const model = tf.sequential({layers: [
      tf.layers.conv2d({inputShape: [8, 8, 1], filters: 4, kernelSize: 3, activation: 'relu'}),
      tf.layers.flatten(),
      tf.layers.dense({units: 3, activation: 'softmax'})]});
    model.compile({optimizer: 'sgd', loss: 'categoricalCrossentropy'});
    const x = tf.randomNormal([16, 8, 8, 1]);
    const y = tf.oneHot(tf.randomUniform([16], 0, 3, 'int32'), 3);
    model.fit(x, y, {epochs: 1, batchSize: 16, verbose: 0}).then(h => {
      const loss = h.history.loss[0];
      if (tf.getBackend() !== 'tensorflow' || !Number.isFinite(loss)) {
        console.error('backend ' + tf.getBackend() + ', loss ' + loss); process.exit(1);
      }
      console.log('setup-native-tfjs: backend ' + tf.getBackend() + ', conv model trained 1 step (loss '
        + loss.toFixed(3) + '): ok');
    })" 2>"$err" || { cat "$err" >&2; die "the training check failed on the tensorflow backend"; }
}
finish() { train_step; say "done in $((SECONDS - start)) s"; exit 0; }

[ "$(uname -s)" = Linux ] || die "this script is for Linux; elsewhere tfjs-node's own install provides the backend"
[ -d node_modules ] || die "node_modules is missing: run npm ci first"
if [ -n "$prefix" ]; then
  [ -f node_modules/@tensorflow/tfjs/package.json ] || die "node_modules/@tensorflow/tfjs is missing: run npm ci first"
  mkdir -p "$prefix" || die "cannot create $prefix"
fi
if [ ! -f "$pkg/package.json" ]; then
  # npm ci drops the optional package when its own install (the download) fails: fetch it without that script.
  version=$(node -p "(require('./package.json').optionalDependencies || {})['@tensorflow/tfjs-node'] || '4.22.0'")
  if [ -n "$prefix" ]; then
    say "installing @tensorflow/tfjs-node@$version into $prefix without its download script"
    [ -f "$prefix/package.json" ] || echo '{ "private": true, "description": "Native TensorFlow backend for Distill Studio (DISTILL_NATIVE_DIR)" }' >"$prefix/package.json"
    (cd "$prefix" && npm install --prefix "$prefix" --save-exact --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$version") >/dev/null 2>"$err" || true
  else
    say "installing @tensorflow/tfjs-node@$version without its download script"
    npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$version" >/dev/null 2>"$err" \
      || true  # judged by its result: npm exits 0 when an optional dependency fails
  fi
  [ -f "$pkg/package.json" ] \
    || { grep -v '^npm warn Unknown' "$err" | tail -n 5 >&2 || true; die "@tensorflow/tfjs-node is not in ${prefix:+$prefix/}node_modules and npm could not install it${prefix:+ (it needs the npm registry)}${prefix:-: run npm ci first}"; }
fi
if [ -n "$prefix" ]; then
  # Its own tfjs would be a second tfjs-core beside the trainer's: the trainer's copies are used instead.
  for d in "$prefix"/node_modules/@tensorflow/tfjs*; do
    case "${d##*/}" in tfjs-node|tfjs-node-gpu) ;; *) rm -rf -- "$d" ;; esac
  done
fi
if loads; then say "the tensorflow backend already loads; checking it trains"; finish; fi

if [ ! -f "$cache/complete" ]; then
  tmp=$(mktemp -d)
  if [ -z "$wheel" ]; then
    "$python" -m pip --version >/dev/null 2>&1 || die "'$python -m pip' does not run: pass --python with a Python that has pip"
    say "downloading tensorflow-cpu==$tf_version with $python -m pip (about 270 MB)"
    "$python" -m pip download --no-deps --disable-pip-version-check --progress-bar off \
        "tensorflow-cpu==$tf_version" -d "$tmp" >"$tmp/pip.log" 2>&1 \
      || { tail -n 5 "$tmp/pip.log" >&2
           die "pip could not download tensorflow-cpu==$tf_version (needs the package index, and a Python it has wheels for: see --python, or --wheel FILE)"; }
    wheel=$(ls "$tmp"/tensorflow_cpu-*.whl)
  fi
  [ -f "$wheel" ] || die "no wheel at $wheel"
  command -v "$python" >/dev/null || die "$python not found: pass --python"
  say "unpacking the C library from $(basename "$wheel") into $cache (about 820 MB)"
  rm -rf "$cache.partial"; mkdir -p "$cache.partial/lib" "$cache.partial/include"
  "$python" - "$wheel" "$cache.partial" <<'PY' || die "could not unpack $wheel"
import os, shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
libs = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2')
# What binding/*.cc includes, transitively (tensorflow/c/tf_tstring.h needs core/platform/ctstring.h).
headers = tuple('tensorflow/include/' + d for d in ('tensorflow/c/', 'tensorflow/core/platform/', 'tsl/', 'xla/tsl/c/'))
found = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        n = info.filename
        if n in libs:
            dest, found = os.path.join(out, 'lib', os.path.basename(n)), found + 1
        elif n.startswith(headers) and not n.endswith('/'):
            dest = os.path.join(out, 'include', n[len('tensorflow/include/'):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
if found != len(libs):
    sys.exit(f'{wheel} lacks {libs}')
PY
  touch "$cache.partial/complete"
  rm -rf "$cache"; mv "$cache.partial" "$cache"
  rm -rf "$tmp"; tmp=
fi

say "linking $cache into $pkg/deps"
rm -rf "$pkg/deps"; mkdir -p "$pkg/deps/lib"
ln -s "$cache/include" "$pkg/deps/include"
ln -s "$cache/lib/libtensorflow_cc.so.2" "$pkg/deps/lib/libtensorflow_cc.so.2"
ln -s "$cache/lib/libtensorflow_framework.so.2" "$pkg/deps/lib/libtensorflow_framework.so.2"
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so"
ln -s libtensorflow_cc.so.2 "$pkg/deps/lib/libtensorflow.so.2.9.1"
ln -s libtensorflow_framework.so.2 "$pkg/deps/lib/libtensorflow_framework.so"

# node-gyp directly, as node-pre-gyp would with --build-from-source: `npm rebuild` runs the package's
# install script instead, which first tries to download a prebuilt addon from Google's storage.
for tool in make c++; do command -v $tool >/dev/null || die "$tool is missing (Debian: apt-get install build-essential)"; done
gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$gyp" ] || gyp=$(command -v node-gyp) || die "node-gyp not found (it ships with npm; or npm install -g node-gyp)"
# The addon's directory is the one node-pre-gyp's binary.find looks in: lib/napi-v<N>, N capped at 8.
napi=$(node -p "Math.min(8, Number(process.versions.napi))")
nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
# Node's own headers (else node-gyp downloads them from nodejs.org).
gyp_args=()
for d in "${npm_config_nodedir:-}" "$nodedir"; do
  if [ -n "$d" ] && [ -f "$d/include/node/node_api.h" ]; then gyp_args=(--nodedir="$d"); break; fi
done
say "compiling the addon with node-gyp (N-API $napi)"
log="$home/.native-build.log"
(cd "$pkg" && node "$gyp" rebuild "${gyp_args[@]}" --module_name=tfjs_binding \
    --module_path="$pkg/lib/napi-v$napi" --napi_build_version="$napi" >"$log" 2>&1) \
  || { tail -n 20 "$log" >&2; die "node-gyp failed; the full log is $log"; }
rm -f "$log"

loads || { cat "$err" >&2; die "built, but @tensorflow/tfjs-node does not load the tensorflow backend"; }
finish
