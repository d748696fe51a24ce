#!/bin/sh
# fetch-tool.sh NAME DEST: download one tool the manifest pins, verify it, then unpack it into DEST.
# The Dockerfile runs it once per downloaded tool; tests run it against a local HTTP server.
# It reads the build arguments scripts/build-image.sh generated from docker/tools.yaml:
#   <P>_URL_<ARCH> <P>_SUM_<ARCH> (sha256:<hex> or sha512:<hex>) <P>_FORMAT (binary|tar.gz|zip)
#   <P>_MEMBER (path inside an archive) and, for a signed download, <P>_SIG_URL_<ARCH>,
#   <P>_SIG_KEY (armored key file) and <P>_SIG_FINGERPRINT.
# <P> is NAME upper-cased with '-' as '_'; <ARCH> is TARGETARCH (default: dpkg's) upper-cased.
# An empty URL means the tool is left out of this variant: DEST is created empty.
# Nothing is unpacked before its checksum (or signature) matched; a mismatch names the file,
# the expected and the actual sum, and exits 1.
set -eu
name=$1
dest=$2
p=$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')
arch=${TARGETARCH:-$(dpkg --print-architecture)}
a=$(printf '%s' "$arch" | tr 'a-z' 'A-Z')
get() { eval "printf '%s' \"\${$1:-}\""; }
url=$(get "${p}_URL_${a}")
sum=$(get "${p}_SUM_${a}")
sig_url=$(get "${p}_SIG_URL_${a}")
format=$(get "${p}_FORMAT")
member=$(get "${p}_MEMBER")
mkdir -p "$dest"
if [ -z "$url" ]; then
  echo "fetch-tool: $name left out of this variant ($arch)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file="$work/$(basename "$url")"
curl -fsSL --retry 3 --connect-timeout 20 -o "$file" "$url" || {
  echo "fetch-tool: cannot download $name from $url" >&2; exit 1; }

if [ -n "$sig_url" ]; then
  key=$(get "${p}_SIG_KEY")
  want_fpr=$(get "${p}_SIG_FINGERPRINT")
  curl -fsSL --retry 3 -o "$file.sig" "$sig_url"
  export GNUPGHOME="$work/gnupg"
  mkdir -m 0700 "$GNUPGHOME"
  got_fpr=$(gpg --batch --show-keys --with-colons "$key" | awk -F: '$1 == "fpr" { print $10; exit }')
  if [ "$got_fpr" != "$want_fpr" ]; then
    echo "fetch-tool: key $key has fingerprint $got_fpr, expected $want_fpr" >&2; exit 1
  fi
  gpg --batch --dearmor -o "$work/key.gpg" "$key"
  gpgv --keyring "$work/key.gpg" "$file.sig" "$file" || {
    echo "fetch-tool: signature of $(basename "$file") does not verify with key $want_fpr" >&2; exit 1; }
  echo "fetch-tool: $name $(basename "$file") signature good (key $want_fpr)"
elif [ -z "$sum" ]; then
  echo "fetch-tool: no checksum for $name on $arch (${p}_SUM_${a} is empty): refusing to unpack $url" >&2
  exit 1
else
  algo=${sum%%:*}
  want=${sum#*:}
  case "$algo" in
    sha256) got=$(sha256sum "$file" | cut -d' ' -f1) ;;
    sha512) got=$(sha512sum "$file" | cut -d' ' -f1) ;;
    *) echo "fetch-tool: unknown checksum kind $algo for $name" >&2; exit 1 ;;
  esac
  if [ "$got" != "$want" ]; then
    echo "fetch-tool: checksum mismatch for $(basename "$file") ($url): expected $algo:$want, actual $algo:$got" >&2
    exit 1
  fi
  echo "fetch-tool: $name $(basename "$file") $algo:$got verified"
fi

case "$format" in
  binary) install -m 0755 "$file" "$dest/$name" ;;
  tar.gz)
    mkdir "$work/x"
    tar -xzf "$file" -C "$work/x" --no-same-owner "$member"
    if [ -d "$work/x/$member" ]; then cp -a "$work/x/$member/." "$dest/"; else install -m 0755 "$work/x/$member" "$dest/$name"; fi ;;
  zip) unzip -q "$file" -d "$dest" ;;
  *) echo "fetch-tool: unknown format '$format' for $name" >&2; exit 1 ;;
esac
