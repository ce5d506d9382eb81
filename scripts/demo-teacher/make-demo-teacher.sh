#!/usr/bin/env bash
# Trains the embedded demo teacher (the CNN of ../shared/anchors/torch_fashion_kd.py) with this
# engine on all 60,000 Fashion-MNIST training images, and copies it to media/demo/teacher/.
# Needs Debian's dataset-fashion-mnist and the native backend (scripts/setup-native-tfjs.sh):
# the wasm backend cannot train convolutions and the cpu backend would take hours.
set -euo pipefail
cd "$(dirname "$0")/../.."
npm run build --silent
out=$(node dist/trainer/cli.js train scripts/demo-teacher/teacher.distill.json | tee /dev/stderr | sed -n 's/^run folder: //p')
rm -rf media/demo/teacher
cp -r "$out/artifacts/teacher" media/demo/teacher
echo "media/demo/teacher <- $out/artifacts/teacher"
