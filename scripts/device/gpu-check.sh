#!/usr/bin/env bash
# GPU check: the trainer's training throughput on webgpu against the CPU, on a machine with an
# NVIDIA GPU and nothing installed for it. Uses only device-bundle/ (scripts/device/prepare.sh)
# and the system (bash, coreutils, the NVIDIA driver). Run from the repository root:
#   bash scripts/device/gpu-check.sh
# It runs (a) the anchor job's KD phase (MLP-64 student from the demo teacher's outputs, demo
# data, batch 128, T = 4, alpha = 0.5, 5 epochs) on webgpu and on wasm, and (b) the anchor's CNN
# teacher trained in the run on webgpu and, for a bounded 2 steps, on the JS cpu backend (the only
# CPU backend in the bundle that trains convolutions). Each sub-run has its own timeout; the whole
# check stays inside 8 minutes. Results: $OUT/ if set, else ./device-results/ (gpu-check.txt,
# gpu-check.jsonl, one log per sub-run).
# Environment:
#   GPU_CHECK_ALLOW_SOFTWARE=1  run webgpu even on a software adapter (llvmpipe): a dry run, not GPU figures
#   GPU_CHECK_TINY=1            small sizes for a dry run on a machine without a GPU (a few minutes)
#   GPU_CHECK_SECONDS=450       the time budget of the sub-runs (a stopped run may take 5 s more)
#   DEVICE_BUNDLE=path          the bundle (default ./device-bundle)
set -uo pipefail # not -e: a failing step is reported and the check goes on

cd "$(dirname "$0")/../.." || exit 2
bundle=${DEVICE_BUNDLE:-$PWD/device-bundle}
results=${OUT:-$PWD/device-results}
budget=${GPU_CHECK_SECONDS:-450}
tiny=${GPU_CHECK_TINY:-0}
allow_software=${GPU_CHECK_ALLOW_SOFTWARE:-0}
mkdir -p "$results" || exit 2

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

# Seconds left of the budget, and a sub-run's timeout clipped to it.
left() { echo $((budget - SECONDS)); }
clip() { local want=$1 l; l=$(left); if [ "$want" -lt "$l" ]; then echo "$want"; else echo "$l"; fi; }

find_icds() {
  # The Vulkan loader's default folders, and where NVIDIA's container runtime mounts the driver.
  local d f
  for d in /etc/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d; do
    for f in "$d"/*.json; do [ -f "$f" ] && echo "$f"; done
  done
}

icd_library() {
  # "library_path": "libGLX_nvidia.so.0" from an ICD file, with bash alone (no grep or jq there).
  local text re='"library_path"[[:space:]]*:[[:space:]]*"([^"]*)"'
  text=$(<"$1")
  [[ $text =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

unpack() {
  # $1: .xz file, $2: target. The system's xz when there is one, else the bundled static busybox.
  if command -v xz >/dev/null 2>&1; then xz -dc "$1" > "$2"; else "$bundle/tools/busybox" xzcat "$1" > "$2"; fi
}

setup_runtime() {
  # A copy of the bundle in /tmp with Dawn's addon and (if needed) node unpacked; reused while
  # the bundle is unchanged.
  local id
  id=$(sha256sum "$bundle/MANIFEST" | cut -c1-12)
  rt=/tmp/distill-gpu-check-$id
  if [ ! -f "$rt/.ready" ]; then
    rm -rf "$rt" && mkdir -p "$rt/dist/trainer/dist/linux-x64" "$rt/node/bin" || return 1
    cp -r "$bundle/package.json" "$bundle/media" "$rt/" && cp -r "$bundle/dist/trainer/." "$rt/dist/trainer/" || return 1
    unpack "$bundle/dawn/dawn.node.xz" "$rt/dist/trainer/dist/linux-x64/dawn.node" || return 1
    touch "$rt/.ready"
  fi
  node=
  local sys major
  if sys=$(command -v node 2>/dev/null); then
    major=$("$sys" -p 'process.versions.node.split(".")[0]' 2>/dev/null)
    if [ "${major:-0}" -ge 20 ] 2>/dev/null; then node=$sys; say "node: $sys $("$sys" --version) (the machine's)"; fi
  fi
  if [ -z "$node" ]; then
    if [ ! -x "$rt/node/bin/node" ]; then
      unpack "$bundle/node/node.xz" "$rt/node/bin/node.tmp" && chmod +x "$rt/node/bin/node.tmp" && mv "$rt/node/bin/node.tmp" "$rt/node/bin/node" || return 1
    fi
    node=$rt/node/bin/node
    local why="the machine has none"
    [ -n "$sys" ] && why="the machine has only $sys, older than 20"
    say "node: $node $("$node" --version) (bundled; $why)"
  fi
}

vulkan_env() {
  # Dawn dlopens libvulkan.so.1: the bundled loader (Debian's libvulkan1), then the driver's libraries.
  local extra=$bundle/vulkan d
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do [ -d "$d" ] && extra=$extra:$d; done
  export LD_LIBRARY_PATH=$extra${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
  local icds f nvidia=
  icds=$(find_icds)
  if [ -z "$icds" ]; then say "Vulkan ICDs: none found (looked in /etc/vulkan/icd.d, /usr/local/share/vulkan/icd.d, /usr/share/vulkan/icd.d, /usr/local/nvidia/share/vulkan/icd.d)"; fi
  for f in $icds; do
    say "Vulkan ICD: $f -> $(icd_library "$f")"
    case $f in *nvidia*) nvidia=${nvidia:-$f} ;; esac
  done
  if [ -n "$nvidia" ]; then
    # Only NVIDIA's driver, so Dawn cannot quietly pick a software one.
    export VK_DRIVER_FILES=$nvidia VK_ICD_FILENAMES=$nvidia
    say "using the NVIDIA ICD $nvidia (VK_DRIVER_FILES)"
  else
    say "NVIDIA Vulkan ICD: NOT FOUND (no nvidia_icd.json in the folders above): the driver's Vulkan part is not installed or not mounted, so webgpu cannot use the GPU"
  fi
}

# One sub-run through the helper: name, backend, config, wanted timeout, then helper options.
sub_run() {
  local name=$1 backend=$2 config=$3 want=$4 t
  shift 4
  t=$(clip "$want")
  if [ "$t" -lt 20 ]; then
    say "$name on $backend: SKIPPED (only $(left) s of the ${budget} s budget left)"
    echo "{\"name\":\"$name\",\"backend\":\"$backend\",\"status\":\"failed\",\"exitCode\":null,\"seconds\":0,\"reason\":\"skipped: no time left\",\"log\":\"\"}" >> "$results/gpu-check.jsonl"
    return
  fi
  say "$name on $backend (timeout ${t} s) ..."
  # The helper enforces the timeout itself (the trainer is stopped cleanly); timeout(1) is a backstop.
  timeout -k 5 $((t + 15)) "$node" "$rt/dist/trainer/device-check.js" run --name "$name" --backend "$backend" \
    --config "$bundle/configs/$config" --work "$work" --results "$results/gpu-check.jsonl" --log "$results/$name.log" --timeout "$t" "$@" \
    || say "$name on $backend: the helper exited with $? (see $results/$name.log)"
}

main() {
  say "GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n) ($(uname -sr), $(nproc) CPUs, $(getconf GNU_LIBC_VERSION 2>/dev/null || echo 'glibc unknown'))"
  [ -f "$bundle/README.txt" ] || { say "no bundle at $bundle: run scripts/device/prepare.sh first (on a machine with node_modules)"; return 2; }
  head -1 "$bundle/README.txt"
  [ "$tiny" = 1 ] && say "GPU_CHECK_TINY=1: dry-run sizes, not the check's figures"

  section "GPU"
  # The driver's tools may sit outside a clean PATH (NVIDIA's container runtime mounts /usr/local/nvidia).
  local smi
  smi=$(command -v nvidia-smi 2>/dev/null) || { [ -x /usr/local/nvidia/bin/nvidia-smi ] && smi=/usr/local/nvidia/bin/nvidia-smi; }
  if [ -n "$smi" ]; then
    "$smi" -L
    "$smi" --query-gpu=name,driver_version,memory.total --format=csv,noheader
  else
    say "nvidia-smi: not found"
  fi

  section "Vulkan"
  vulkan_env

  section "Runtime"
  setup_runtime || { say "could not unpack the bundle into /tmp: stopping"; return 2; }
  work=$(mktemp -d /tmp/distill-gpu-check-work.XXXXXX)
  : > "$results/gpu-check.jsonl"

  section "WebGPU adapter (Dawn)"
  local probe webgpu=1
  probe=$(timeout -k 5 30 "$node" "$rt/dist/trainer/device-check.js" probe 2>"$work/probe.err")
  say "probe: ${probe:-no answer (exit $?): $(tail -2 "$work/probe.err")}"
  if [[ $probe != *'"ok":true'* ]]; then
    say "webgpu: NO ADAPTER; its sub-runs still run, to record the trainer's own message"
  elif [[ $probe == *'"software":true'* ]]; then
    if [ "$allow_software" = 1 ]; then
      say "webgpu: software adapter; GPU_CHECK_ALLOW_SOFTWARE=1, so the webgpu runs use it (these are not GPU figures)"
    else
      say "webgpu: software adapter only: webgpu runs SKIPPED (GPU_CHECK_ALLOW_SOFTWARE=1 runs them anyway)"
      webgpu=0
    fi
  fi

  # Sizes: the check's own, or tiny ones for a dry run on a CPU rasterizer.
  local kd=() cnn_gpu=() cnn_cpu=(--measure teacher --teacher-epochs 1 --train-limit 256 --log-every 1 --stop-after teacher)
  if [ "$tiny" = 1 ]; then
    kd=(--epochs 2 --train-limit 512)
    cnn_gpu=(--teacher-epochs 2 --train-limit 256)
  fi

  section "(a) KD phase: MLP-64 from the demo teacher's outputs"
  if [ "$webgpu" = 1 ]; then sub_run kd-mlp-webgpu webgpu kd-mlp.distill.json 80 "${kd[@]}"; fi
  sub_run kd-mlp-wasm wasm kd-mlp.distill.json 60 "${kd[@]}"

  section "(b) CNN teacher trained in the run"
  if [ "$webgpu" = 1 ]; then sub_run cnn-teacher-webgpu webgpu cnn-teacher.distill.json 110 --measure teacher "${cnn_gpu[@]}"; fi
  say "(the CPU run: the JS cpu backend, 2 training steps at batch 128, stopped after the teacher phase: wasm has no Conv2DBackpropFilter and native TensorFlow is not in the bundle)"
  sub_run cnn-teacher-cpu cpu cnn-teacher.distill.json 150 "${cnn_cpu[@]}"

  section "Results (measured here; samples/s = training examples per second)"
  "$node" "$rt/dist/trainer/device-check.js" report --results "$results/gpu-check.jsonl"
  say ""
  say "total ${SECONDS} s; results in $results"
  rm -rf "$work"
  # Exit 1 when a sub-run did not give its figure, so the caller sees it.
  local bad=0 line
  while IFS= read -r line; do
    case $line in *'"status":"failed"'* | *'"status":"timed out"'*) bad=$((bad + 1)) ;; esac
  done < "$results/gpu-check.jsonl"
  [ "$webgpu" = 1 ] || bad=$((bad + 1))
  [ "$bad" -eq 0 ]
}

main 2>&1 | tee "$results/gpu-check.txt"
exit "${PIPESTATUS[0]}"
