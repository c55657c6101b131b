# shellcheck shell=bash
# Shared by scripts/setup-apiserver and scripts/setup-sigstore (sourced, not run): test servers
# and clients from Debian packages without installing a newer Debian on this machine.
#
# The caller sets: bin_dir (where binaries go), servers (the prebuilt copies, with SHA256SUMS),
# cache (build cache root), sudo ("" or "sudo"), and the functions say and die.
#
#   debian_apt SUITE DIR    a private apt state for SUITE in DIR, from the machine's own mirror;
#                           sets the array apt_opts for apt-get/apt-cache
#   debian_suite_with PKG DIR SUITE...
#                           the first SUITE whose index has PKG (its state in DIR/SUITE);
#                           prints the suite, sets apt_opts to it
#   prebuilt NAME           installs $servers/NAME as $bin_dir/NAME, checked against
#                           $servers/SHA256SUMS; returns 1 when there is no prebuilt NAME
#   go_build_from_debian NAME ROOT_PKG PINNED_VERSION GO_PKG IMPORT_PATH CHECK_DIR [LDFLAGS]
#                           $bin_dir/NAME from the cache $cache/NAME/<key> (key = the exact
#                           versions of the whole source set), else `go build IMPORT_PATH` from
#                           the -dev closure of ROOT_PKG and the toolchain GO_PKG, offline
#                           (GO111MODULE=off, no module proxy), cached; needs apt_opts set.
#                           CHECK_DIR: a path under usr/share/gocode/src the root package must
#                           unpack. CHAINLET_BUILD_PLAN_ONLY=1 stops before the download;
#                           CHAINLET_BUILD_JOBS limits go build's parallelism.

debian_mirror() {
  local mirror
  mirror=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -n1)
  [ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
  printf '%s\n' "$mirror"
}

debian_apt() {
  local suite=$1 apt_dir=$2 mirror
  mirror=$(debian_mirror)
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  cat > "$apt_dir/$suite.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt_opts=(-o "Dir::Etc::sourcelist=$apt_dir/$suite.sources" -o "Dir::Etc::sourceparts=-"
            -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
            -o "Dir::State::status=/dev/null" -o "APT::Sandbox::User=root")
  # (A state already fetched in this run is not fetched again.)
  if ! compgen -G "$apt_dir/lists/*_InRelease" >/dev/null; then
    apt-get "${apt_opts[@]}" update -qq || die "apt-get update of the private $suite state failed"
  fi
}

debian_suite_with() {
  local pkg=$1 dir=$2 suite have
  shift 2
  for suite in "$@"; do
    debian_apt "$suite" "$dir/$suite" >&2
    have=$(apt-cache "${apt_opts[@]}" policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}') || true
    if [ -n "$have" ] && [ "$have" != "(none)" ]; then
      printf '%s\n' "$suite"
      return 0
    fi
    say "Debian $suite has no $pkg"
  done
  return 1
}

prebuilt() {
  local name=$1 src="$servers/$1" sums="$servers/SHA256SUMS" target="$bin_dir/$1"
  [ -f "$src" ] || return 1
  [ -f "$sums" ] || die "$src is there but $sums is not: cannot check it"
  local want got
  want=$(awk -v n="$name" '$2 == n || $2 == "*" n {print $1}' "$sums")
  [ -n "$want" ] || die "$sums has no line for $name"
  got=$(sha256sum "$src" | awk '{print $1}')
  [ "$got" = "$want" ] || die "$src: sha256 $got, but $sums says $want"
  if [ -x "$target" ] && [ "$(sha256sum "$target" | awk '{print $1}')" = "$want" ]; then
    say "$name: $target is already the prebuilt $src (sha256 $got, checked)"
    return 0
  fi
  $sudo install -m 0755 "$src" "$target"
  say "$name: prebuilt $src (sha256 $got, checked) copied in ${SECONDS}s"
}

go_build_from_debian() {
  local name=$1 root=$2 pinned=$3 go_pkg=$4 import_path=$5 check_dir=$6 ldflags=${7:--s -w}
  local target="$bin_dir/$name" tmp have root_pkg="$2=$3"
  have=$(apt-cache "${apt_opts[@]}" show "$root_pkg" 2>/dev/null | awk '/^Version:/ {print $2; exit}') || true
  if [ -z "$have" ]; then
    have=$(apt-cache "${apt_opts[@]}" policy "$root" 2>/dev/null | awk '/Candidate:/ {print $2}') || true
    { [ -n "$have" ] && [ "$have" != "(none)" ]; } \
      || die "$name: the suite has no $root any more: build it some other way, or put a prebuilt binary in $servers"
    say "NOTE: $root $pinned is gone; building $have instead"
    root_pkg="$root=$have"
  fi
  # The Go source closure: every golang-* package the two roots depend on, recursively.
  # (Each query may fail when the suite moved: `|| true`, then a clear message below.)
  local pkgs
  pkgs=$(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
           --no-breaks --no-replaces --no-enhances "$root_pkg" "$go_pkg" 2>/dev/null \
         | grep -E '^golang-' | sort -u) || true
  [ -n "$pkgs" ] || die "$name: could not resolve the dependencies of $root and $go_pkg"
  local versions key
  # shellcheck disable=SC2086
  versions=$(apt-cache "${apt_opts[@]}" show --no-all-versions $pkgs \
               | awk '/^Package:/ {p = $2} /^Version:/ {print p "=" $2}') \
    || die "$name: apt-cache show of the source set failed"
  versions=$(printf '%s\n' "$versions" | sed "s|^$root=.*|$root_pkg|" | sort)
  printf '%s\n' "$versions" | grep -q "^$go_pkg=" \
    || die "$name: no $go_pkg (the toolchain moved on): set the toolchain package to the suite's golang-1.NN-go"
  key=$(printf '%s\n' "$versions" | sha256sum | cut -c1-16)
  local cached="$cache/$name/$key"
  say "$name: source set of $(printf '%s\n' "$versions" | wc -l) packages, $root_pkg, $(printf '%s\n' "$versions" | grep "^$go_pkg=") (cache key $key)"
  if [ -x "$cached/$name" ]; then
    $sudo install -m 0755 "$cached/$name" "$target"
    say "$name: cached build $cached (built from the same package versions) in ${SECONDS}s"
    return 0
  fi
  if [ "${CHAINLET_BUILD_PLAN_ONLY:-}" = 1 ]; then
    say "CHAINLET_BUILD_PLAN_ONLY=1: stopping before the download"
    return 0
  fi
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/chainlet-$name-build.XXXXXX")
  say "$name: building from source in $tmp: downloading $(printf '%s\n' "$versions" | wc -l) packages"
  # shellcheck disable=SC2086
  (cd "$tmp" && apt-get "${apt_opts[@]}" download $versions >/dev/null) \
    || { rm -rf "$tmp"; die "$name: apt-get download of the Go source packages failed (the suite moved? the set is printed above)"; }
  say "$name: downloaded in ${SECONDS}s; unpacking"
  local deb
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  # The pinned toolchain (the closure may hold a newer one too, through golang-go).
  local go_version=${go_pkg#golang-}
  local goroot="$tmp/root/usr/lib/go-${go_version%-go}"
  [ -x "$goroot/bin/go" ] || { rm -rf "$tmp"; die "$name: no Go toolchain in the unpacked $go_pkg"; }
  [ -d "$goroot/src/runtime" ] || { rm -rf "$tmp"; die "$name: $goroot/src has no standard library (is its link into usr/share absolute?)"; }
  [ -d "$tmp/root/usr/share/gocode/src/$check_dir" ] \
    || { rm -rf "$tmp"; die "$name: the unpacked $root has no usr/share/gocode/src/$check_dir"; }
  say "$name: unpacked in ${SECONDS}s; go build $import_path"
  (cd "$tmp" && env GO111MODULE=off GOPROXY=off GOTOOLCHAIN=local GOFLAGS= CGO_ENABLED=0 \
      GOPATH="$tmp/root/usr/share/gocode" GOROOT="$goroot" GOCACHE="$tmp/gocache" HOME="$tmp" \
      "$goroot/bin/go" build -p "${CHAINLET_BUILD_JOBS:-$(nproc)}" -trimpath -ldflags "$ldflags" \
      -o "$tmp/$name" "$import_path") \
    || { rm -rf "$tmp"; die "$name: go build of $import_path failed (the package set above no longer builds together)"; }
  "$tmp/$name" --help >/dev/null 2>&1 || { rm -rf "$tmp"; die "$name: the built binary does not run"; }
  $sudo mkdir -p "$cached"
  $sudo install -m 0755 "$tmp/$name" "$cached/$name"
  printf '%s\n' "$versions" | $sudo tee "$cached/PACKAGES" >/dev/null
  $sudo install -m 0755 "$tmp/$name" "$target"
  rm -rf "$tmp"
  say "$name: built from source in ${SECONDS}s, cached in $cached"
}
