#!/usr/bin/env bash
# Build the pipekit base image from docker/ with docker (default) or buildah.
#   scripts/build-image.sh [--tool docker|buildah] [--tag NAME:VERSION] [--print]
# --print shows the command instead of running it (used by the tests; no engine is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=docker
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
tag="pipekit/base:${version}"
print=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tool) tool=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --print) print=1; shift ;;
    *) echo "build-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
# shellcheck disable=SC1091
source docker/versions.env
args=(-f docker/Dockerfile -t "$tag"
  --build-arg "PYTHON_IMAGE=${PYTHON_IMAGE}"
  --build-arg "PIPEKIT_VERSION=${version}"
  --build-arg "KUBECTL_VERSION=${KUBECTL_VERSION}"
  --build-arg "KUBECTL_SHA256=${KUBECTL_SHA256}"
  --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
case "$tool" in
  docker) cmd=(docker build "${args[@]}" .) ;;
  buildah) cmd=(buildah bud "${args[@]}" .) ;;
  *) echo "build-image.sh: --tool must be docker or buildah, not $tool" >&2; exit 2 ;;
esac
if [ "$print" = 1 ]; then printf '%q ' "${cmd[@]}"; echo; else exec "${cmd[@]}"; fi
