#!/bin/sh
# Copies what the services need at run time out of a built checkout into OUT_DIR: the root manifest and lockfile,
# every workspace's package.json (npm ci checks the lockfile against all of them), the compiled dist/ folders
# (without compiled tests, e2e helpers and build info) and proto/ (server reflection reads it at start-up).
# Then `npm ci --omit=dev --workspace services/<name>` in OUT_DIR installs only that service's dependencies.
#
# usage (from the repository root, after `npx tsc -b services/<name>`): deploy/docker/stage-runtime.sh OUT_DIR
set -eu
out=${1:?usage: stage-runtime.sh OUT_DIR}
mkdir -p "$out"
cp package.json package-lock.json "$out/"
for manifest in libs/*/package.json services/*/package.json tools/*/package.json deploy/package.json; do
  dir=$(dirname "$manifest")
  mkdir -p "$out/$dir"
  cp "$manifest" "$out/$dir/"
  if [ -d "$dir/dist" ]; then cp -R "$dir/dist" "$out/$dir/dist"; fi
done
find "$out" -path '*/dist/*' -type d \( -name e2e -o -name test \) -prune -exec rm -rf {} +
find "$out" -path '*/dist/*' -type f \( -name '*.spec.*' -o -name '*.tsbuildinfo' -o -name '*.map' \) -exec rm -f {} +
cp -R proto "$out/proto"
