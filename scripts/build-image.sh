#!/usr/bin/env bash
# Build, tag and push the pipekit base image from docker/Dockerfile and docker/tools.yaml.
#
#   scripts/build-image.sh [--tool docker|buildah] [--variant jdk17|jdk21|all] [--registry REG]
#                          [--platforms linux/amd64,linux/arm64] [--push] [--dry-run|--print]
#   scripts/build-image.sh --local [--rebootstrap] [--tag REF]
#
# Tags: <version>-<variant> is immutable (a release: refused when the registry has it already);
# the floating <major>.<minor>-<variant> and <major>-<variant> (and, for jdk17, <major>.<minor> and
# <major>) move only forward, never to an older release of their line.
# --dry-run (alias --print) prints every command it would run, one a line, and runs none of them;
# it does write the generated build arguments under build/image/ (a file, not a build).
# --local builds the real Dockerfile here, where no image registry and no release server is
# reachable: a Debian bookworm base bootstrapped with mmdebstrap (localhost/debian:bookworm-local),
# the tools docker/tools.yaml marks `local: {from: machine}` served from this machine over a
# 127.0.0.1 HTTP server and verified against the SHA256SUMS file this script writes, the others
# from Debian or left out (image.json says which). Its last output line is the image reference.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=docker
variant=jdk17
registry=${PIPEKIT_IMAGE_REGISTRY:-docker.io/pipekit}
platforms=linux/amd64,linux/arm64
push=0
dry=0
local_build=0
rebootstrap=0
local_tag=
while [ $# -gt 0 ]; do
  case "$1" in
    --tool) tool=$2; shift 2 ;;
    --variant) variant=$2; shift 2 ;;
    --registry) registry=$2; shift 2 ;;
    --platforms) platforms=$2; shift 2 ;;
    --push) push=1; shift ;;
    --dry-run|--print) dry=1; shift ;;
    --local) local_build=1; tool=buildah; shift ;;
    --rebootstrap) rebootstrap=1; shift ;;
    --tag) local_tag=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$tool" in docker|buildah) ;; *) echo "build-image.sh: --tool must be docker or buildah, not $tool" >&2; exit 2 ;; esac
case "$variant" in jdk17|jdk21|all) ;; *) echo "build-image.sh: --variant must be jdk17, jdk21 or all, not $variant" >&2; exit 2 ;; esac
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
mkdir -p build
version=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
major=${version%%.*}
minor=$(echo "$version" | cut -d. -f1-2)
out=build/image

show() { printf '%q ' "$@" | sed 's/ $//'; echo; }
run() { if [ "$dry" = 1 ]; then show "$@"; else "$@"; fi; }

wheel() {
  # setuptools reuses build/lib: a module deleted from pipekit/ would still ship, so start clean.
  run rm -rf build/lib build/bdist.linux-* "$out/context/wheels"
  # The wheel's timestamps come from the last commit, so an unchanged pipekit gives the same bytes
  # and the image's pipekit layer stays cached.
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 315532800) \
    run "$PY" -m pip wheel -q --no-deps -w "$out/context/wheels" .
}

read_lines() { # read_lines FLAG FILE -> appends "FLAG line" pairs to the array named flags
  while IFS= read -r line; do flags+=("$1" "$line"); done < "$2"
}

released_tags() { # tags already in the registry (none without --push, or when the repository is new)
  [ "$push" = 1 ] || return 0
  local tls=() listed
  [ "${PIPEKIT_REGISTRY_TLS_VERIFY:-true}" = false ] && tls=(--tls-verify=false)
  if ! listed=$(skopeo list-tags "${tls[@]}" "docker://$registry/pipekit-base" 2>&1); then
    case "$listed" in
      *NAME_UNKNOWN*|*"name unknown"*|*"repository name not known"*) return 0 ;;
    esac
    # Without the list, a released tag could be moved: stop instead.
    echo "build-image.sh: cannot list the tags of $registry/pipekit-base, so cannot tell what is released: ${listed##*$'\n'}" >&2
    exit 3
  fi
  printf '%s' "$listed" | "$PY" -c 'import json,sys; print("\n".join(json.load(sys.stdin)["Tags"]))'
}

# floating TAG: move it only when no newer release of its line exists
newest_in_line() { # newest_in_line PREFIX SUFFIX -> the highest released version matching PREFIX*SUFFIX
  printf '%s\n' "$released" | sed -n "s/^\($1[0-9.]*\)$2\$/\1/p" | sort -V | tail -1
}

build_variant() {
  local v=$1 name="$registry/pipekit-base"
  "$PY" -m pipekit.baseimage.buildargs --variant "$v" --pipekit-version "$version" --out-dir "$out"
  if printf '%s\n' "$released" | grep -qx "$version-$v"; then
    echo "build-image.sh: $name:$version-$v is already released; a released tag is never moved (bump the version)" >&2
    exit 1
  fi
  local tags=("$version-$v")
  local floats=("$minor-$v" "$major-$v")
  [ "$v" = jdk17 ] && floats+=("$minor" "$major")
  local newest
  newest=$(newest_in_line "$major." "-$v")
  if [ -z "$newest" ] || [ "$(printf '%s\n%s\n' "$newest" "$version" | sort -V | tail -1)" = "$version" ]; then
    tags+=("${floats[@]}")
  else
    echo "build-image.sh: $newest-$v is newer than $version: floating tags stay where they are" >&2
  fi
  flags=()
  read_lines --build-arg "$out/build-args"
  read_lines --label "$out/labels"
  flags+=(--label "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
          --label "org.opencontainers.image.revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)")
  local t tagflags=()
  for t in "${tags[@]}"; do tagflags+=(-t "$name:$t"); done
  if [ "$tool" = docker ]; then
    local pushflag=()
    [ "$push" = 1 ] && pushflag=(--push)
    run docker buildx build --platform "$platforms" -f docker/Dockerfile "${flags[@]}" "${tagflags[@]}" "${pushflag[@]}" .
  else
    run buildah bud --layers --format docker --platform "$platforms" --manifest "$name:$version-$v" -f docker/Dockerfile "${flags[@]}" .
    for t in "${tags[@]:1}"; do run buildah tag "$name:$version-$v" "$name:$t"; done
    if [ "$push" = 1 ]; then
      for t in "${tags[@]}"; do run buildah manifest push --all "$name:$version-$v" "docker://$name:$t"; done
    fi
  fi
}

if [ "$local_build" = 0 ]; then
  released_tags > "$out.released" || exit $?
  released=$(cat "$out.released")
  wheel
  if [ "$variant" = all ]; then for v in jdk17 jdk21; do build_variant "$v"; done; else build_variant "$variant"; fi
  exit 0
fi

# ---- --local ----
command -v mmdebstrap >/dev/null || { echo "build-image.sh: --local needs mmdebstrap: apt-get install -y mmdebstrap" >&2; exit 2; }
command -v buildah >/dev/null || { echo "build-image.sh: --local needs buildah: apt-get install -y buildah" >&2; exit 2; }
base=localhost/debian:bookworm-local
work=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
if [ "$rebootstrap" = 1 ] || ! buildah inspect --type image "$base" >/dev/null 2>&1; then
  run mmdebstrap --quiet --variant=apt --include=ca-certificates bookworm "$work/rootfs.tar" \
    "deb http://deb.debian.org/debian bookworm main" \
    "deb http://deb.debian.org/debian bookworm-updates main" \
    "deb http://deb.debian.org/debian-security bookworm-security main"
  if [ "$dry" = 1 ]; then
    show buildah from scratch; show buildah add CONTAINER "$work/rootfs.tar" /; show buildah commit CONTAINER "$base"
  else
    c=$(buildah from scratch)
    buildah add --quiet "$c" "$work/rootfs.tar" / >/dev/null
    buildah commit --quiet "$c" "$base" >/dev/null
    buildah rm "$c" >/dev/null
  fi
fi
port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
arch=$(dpkg --print-architecture)
rm -rf "$out/serve"
"$PY" -m pipekit.baseimage.buildargs --variant jdk17 --pipekit-version "$version" --out-dir "$out" \
  --local-url "http://127.0.0.1:$port" --local-dir "$out/serve" --base-image "$base" --host-arch "$arch"
if [ -f "$out/serve/SHA256SUMS" ]; then (cd "$out/serve" && sha256sum --quiet -c SHA256SUMS); fi
wheel
ref=${local_tag:-localhost/pipekit-base:$version-local}
flags=(--format docker --build-arg "TARGETARCH=$arch")
labels=()
# This machine reaches PyPI through a TLS-inspecting proxy: hand its CA bundle to the pip step as a
# build secret (not stored in the image).
ca=${PIPEKIT_BUILD_CA:-${PIP_CERT:-${REQUESTS_CA_BUNDLE:-}}}
[ -n "$ca" ] && [ -s "$ca" ] && flags+=(--secret "id=build_ca,src=$ca")
read_lines --build-arg "$out/build-args"
# Labels go on in one `buildah config` after the build: as `bud --label` flags buildah adds one
# step per label, rebuilt every time.
while IFS= read -r line; do labels+=(--label "$line"); done < "$out/labels"
if [ "$dry" = 1 ]; then
  show "$PY" -m http.server --bind 127.0.0.1 "$port" --directory "$out/serve"
else
  mkdir -p "$out/serve"
  "$PY" -m http.server --bind 127.0.0.1 "$port" --directory "$out/serve" >"$work/http.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
fi
run buildah bud --layers --isolation chroot -f docker/Dockerfile "${flags[@]}" -t "$ref" .
if [ "$dry" = 1 ]; then
  show buildah config "${labels[@]}" CONTAINER; show buildah commit --rm --format docker CONTAINER "$ref"
else
  c=$(buildah from --pull-never "$ref")
  buildah config "${labels[@]}" "$c"
  buildah commit --quiet --rm --format docker "$c" "$ref" >/dev/null
fi
echo "$ref"
