#!/usr/bin/env bash
# Build kwake's image and prove it runs, on a machine with no Docker Hub (only PyPI and a Debian
# mirror reachable) and possibly no Docker daemon. Idempotent: every step is skipped when its
# result is already there (a running daemon, a base image, the built image is rebuilt from cache).
#
#   sudo deploy/image/build-local.sh            # as root: it may start dockerd and debootstrap
#
# Steps:
#   1. a Docker daemon: use the running one, else start dockerd (overlay2, falling back to vfs)
#      without iptables or a bridge; builds and the `kwake up` check use the host network.
#   2. the base image python:3.11-slim-bookworm: pull it if Docker Hub answers, else make a
#      stand-in from Debian bookworm (debootstrap minbase + Debian's python3 3.11, python3-venv,
#      python-is-python3 so `python` resolves as in the official image) and tag it locally with
#      that name, so the Dockerfile builds unchanged.
#   3. docker build, passing this machine's pip setup (an http(s) index, the CA bundle) as
#      build args.
#   4. checks, in containers run as deploy/base's pods run: --help of each component, `id`; the
#      hello example's container and a gateway container with its Deployment's arguments, as two
#      pods (probes, hello through the gateway, exit 0 on SIGTERM); and a whole
#      `kwake up -f examples/hello.yaml` curled from the host, in a read-only container and in a
#      writable one whose `docker diff` must show nothing written outside /tmp.
#   5. figures: build time, image size, cold `--help` time.
#
# Environment (all optional):
#   IMAGE=kwake:local              tag of the built image
#   DEBIAN_MIRROR=URL              Debian mirror for the stand-in (default: the one apt uses)
#   DEBIAN_SECURITY_MIRROR=URL     default http://deb.debian.org/debian-security
#   KEEP_DOCKERD=1                 leave a dockerd this script started running at the end
#   SKIP_UP_CHECK=1                skip the two `kwake up` runs (about 20 s each)
#   FROM_GIT=REV                   build `git archive REV` instead of the working tree
#   REBUILD_BASE=1                 make the stand-in base again even if one is tagged
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${IMAGE:-kwake:local}
BASE=python:3.11-slim-bookworm
STANDIN=kwake-standin/python:3.11-bookworm
STANDIN_LABEL=io.kwake.standin
DOCKERD_LOG=${DOCKERD_LOG:-/tmp/kwake-dockerd.log}
UP_CONTAINER=kwake-up-check-$$
APP_CONTAINER=kwake-app-check-$$
GATEWAY_CONTAINER=kwake-gateway-check-$$
AUTOSCALER_CONTAINER=kwake-autoscaler-check-$$

started_dockerd_pid=""
BASE_SECONDS=""
UP_SUMMARY=()
rootfs=""
up_started=""
pods_started=""
routes_dir=""
PODS_SUMMARY=""
AUTOSCALER_SUMMARY=""
kube_dir=""
FAILURES=()

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

cleanup() {
    local status=$?
    if [[ -n $up_started ]]; then
        docker rm -f "$UP_CONTAINER" >/dev/null 2>&1 || true
    fi
    if [[ -n $pods_started ]]; then
        docker rm -f "$APP_CONTAINER" "$GATEWAY_CONTAINER" "$AUTOSCALER_CONTAINER" >/dev/null 2>&1 || true
    fi
    if [[ -n $kube_dir ]]; then
        rm -rf "$kube_dir"
    fi
    if [[ -n $routes_dir ]]; then
        rm -rf "$routes_dir"
    fi
    if [[ -n $rootfs && -d $rootfs ]]; then
        # debootstrap mounts /proc and /sys inside its target; never delete through a mount.
        while read -r mountpoint; do
            umount -l "$mountpoint" || true
        done < <(awk -v root="$rootfs" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
        rm -rf --one-file-system "$rootfs"
    fi
    if [[ -n $started_dockerd_pid && -z ${KEEP_DOCKERD:-} ]]; then
        log "stopping the dockerd this script started (pid $started_dockerd_pid)"
        kill "$started_dockerd_pid" 2>/dev/null || true
        for _ in $(seq 1 60); do
            kill -0 "$started_dockerd_pid" 2>/dev/null || break
            sleep 0.5
        done
        # dockerd leaves its default network namespace mounted when it exits.
        if ! kill -0 "$started_dockerd_pid" 2>/dev/null && mountpoint -q /run/docker/netns/default; then
            umount /run/docker/netns/default || true
        fi
    fi
    exit "$status"
}
trap cleanup EXIT

need_root() { [[ $(id -u) == 0 ]] || die "$1 needs root (run with sudo)"; }

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    if ((${#missing[@]})); then
        need_root "installing ${missing[*]}"
        log "apt-get install ${missing[*]}"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
    fi
}

# Start dockerd with one storage driver; succeed once `docker info` answers.
try_dockerd() {
    local driver=$1
    log "starting dockerd (storage driver $driver, no iptables, no bridge; log $DOCKERD_LOG)"
    setsid dockerd --storage-driver "$driver" --iptables=false --bridge=none \
        >>"$DOCKERD_LOG" 2>&1 </dev/null &
    started_dockerd_pid=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$started_dockerd_pid" 2>/dev/null || break
        sleep 0.5
    done
    kill "$started_dockerd_pid" 2>/dev/null || true
    wait "$started_dockerd_pid" 2>/dev/null || true
    started_dockerd_pid=""
    return 1
}

ensure_dockerd() {
    if docker info >/dev/null 2>&1; then
        log "using the running Docker daemon"
        return
    fi
    need_root "starting dockerd"
    try_dockerd overlay2 || try_dockerd vfs || die "dockerd did not start; see $DOCKERD_LOG"
}

# The Debian mirror apt uses here (deb822 sources first, then one-line sources).
detect_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i !~ /security/) { print $i; exit } }')
    if [[ -z $uri ]]; then
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '/^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/ && $i ~ /debian/ && $i !~ /security/) { print $i; exit } }')
    fi
    printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

make_standin_base() {
    need_root "debootstrap"
    local mirror=${DEBIAN_MIRROR:-$(detect_mirror)}
    local security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
    rootfs=$(mktemp -d /tmp/kwake-standin.XXXXXX)
    log "debootstrap bookworm (minbase + python3) from $mirror into $rootfs"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python-is-python3,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 ||
        die "debootstrap failed; see $rootfs.log"
    log "bookworm-updates and bookworm-security upgrades"
    cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
    cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
    # The CAs this machine adds to Debian's (e.g. an egress proxy's): pip in the build must trust
    # what this machine's pip trusts. Public certificates only; the stand-in never leaves here.
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    fi
    chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        sh -c 'apt-get update -q && apt-get -y -q upgrade && apt-get clean && update-ca-certificates' \
        >>"$rootfs.log" 2>&1 || die "upgrade in the stand-in failed; see $rootfs.log"
    # Trim like Debian's slim images: no docs beyond copyright, man pages, locales, apt lists.
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,info,locale}/* "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/*.log
    : >"$rootfs/etc/resolv.conf"
    log "docker import as $STANDIN, tagged $BASE"
    tar --numeric-owner --xattrs -C "$rootfs" -c . |
        docker import \
            --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            --change "ENV LANG=C.UTF-8" \
            --change "LABEL $STANDIN_LABEL=\"debootstrap bookworm minbase + Debian python3, standing in for $BASE\"" \
            --change 'CMD ["python3"]' \
            - "$STANDIN" >/dev/null
    docker tag "$STANDIN" "$BASE"
    rm -f "$rootfs.log"
}

ensure_base() {
    if [[ -z ${REBUILD_BASE:-} ]] && docker image inspect "$BASE" >/dev/null 2>&1; then
        log "base $BASE present ($(base_kind))"
        return
    fi
    if [[ -z ${REBUILD_BASE:-} ]] && timeout 60 docker pull -q "$BASE" >/dev/null 2>&1; then
        log "pulled the official $BASE"
        return
    fi
    log "Docker Hub unreachable: making a stand-in for $BASE"
    local start
    start=$(now)
    make_standin_base
    BASE_SECONDS=$(seconds_since "$start")
}

base_kind() {
    if [[ -n $(docker image inspect -f "{{index .Config.Labels \"$STANDIN_LABEL\"}}" "$BASE" 2>/dev/null) ]]; then
        echo "Debian stand-in"
    else
        echo "official image"
    fi
}

pip_setting() {
    local env_value=$1 key=$2
    if [[ -n $env_value ]]; then
        printf '%s\n' "$env_value"
    elif command -v pip >/dev/null; then
        pip config get "global.$key" 2>/dev/null || true
    fi
}

# This machine's pip setup, as build args: its index when a container can reach it too (file://
# indexes cannot), and, when it verifies TLS against the system CA bundle, the same in the build
# (Debian's path, which the base has; the stand-in base carries this machine's added CAs).
pip_build_args() {
    local url cert
    url=$(pip_setting "${PIP_INDEX_URL:-}" index-url)
    if [[ $url =~ ^https?:// ]]; then
        printf '%s\n' --build-arg "PIP_INDEX_URL=$url"
    fi
    cert=$(pip_setting "${PIP_CERT:-}" cert)
    if [[ -n $cert ]]; then
        printf '%s\n' --build-arg "PIP_CERT=/etc/ssl/certs/ca-certificates.crt"
    fi
}

build_image() {
    local args=()
    mapfile -t args < <(pip_build_args)
    log "docker build -t $IMAGE (host network${args[*]:+, ${args[*]}})"
    local start previous
    previous=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    start=$(now)
    # The legacy builder: Debian's daemon has no buildx plugin beside it, and it needs none.
    local build=(env DOCKER_BUILDKIT=0 docker build --force-rm --network host "${args[@]}" -t "$IMAGE")
    if [[ -n ${FROM_GIT:-} ]]; then
        # A commit as the context: what is committed builds, whatever the working tree holds.
        git -C "$REPO" archive --format=tar "$FROM_GIT" | "${build[@]}" - >/tmp/kwake-build.log 2>&1
    else
        "${build[@]}" "$REPO" >/tmp/kwake-build.log 2>&1
    fi || {
        tail -30 /tmp/kwake-build.log >&2
        die "docker build failed; see /tmp/kwake-build.log"
    }
    BUILD_SECONDS=$(seconds_since "$start")
    # The image this tag named before, now untagged: this script's to remove (in use: kept).
    if [[ -n $previous && $previous != $(docker image inspect -f '{{.Id}}' "$IMAGE") ]]; then
        docker rmi "$previous" >/dev/null 2>&1 || true
    fi
}

# The way deploy/base's pods run it: read-only root, /tmp (an emptyDir of 64Mi there) the only
# writable place, user 10001, no capabilities, no privilege escalation.
RUN_LIKE_PODS=(--read-only --tmpfs "/tmp:rw,size=64m" --user 10001:10001
    --cap-drop ALL --security-opt no-new-privileges)
run_ro() { docker run --rm "${RUN_LIKE_PODS[@]}" "$@"; }

check_image() {
    local start out
    start=$(now)
    out=$(run_ro "$IMAGE" --help)
    HELP_SECONDS=$(seconds_since "$start")
    grep -q 'usage: kwake' <<<"$out" || die "kwake --help printed no usage"
    WARM_HELP_SECONDS=""
    for _ in 1 2 3; do # the best of three: this machine is shared
        start=$(now)
        run_ro "$IMAGE" --help >/dev/null
        WARM_HELP_SECONDS=$(awk -v a="${WARM_HELP_SECONDS:-1e9}" -v b="$(seconds_since "$start")" \
            'BEGIN { print (b < a ? b : a) }')
    done
    for component in gateway operator autoscaler; do
        run_ro "$IMAGE" "$component" --help | grep -q "usage: kwake $component" ||
            die "kwake $component --help failed"
        log "kwake $component --help: ok"
    done
    ID_OUTPUT=$(docker run --rm --read-only --tmpfs /tmp --entrypoint id "$IMAGE")
    [[ $ID_OUTPUT == uid=10001* ]] || die "the image runs as $ID_OUTPUT, not 10001"
    log "id in the image (default user): $ID_OUTPUT"
    IMAGE_BYTES=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    BASE_BYTES=$(docker image inspect -f '{{.Size}}' "$BASE")
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# The autoscaler container with deploy/base/autoscaler.yaml's arguments (on loopback), against
# the control plane of a running `kwake up` container: its probe must pass and it must exit 0
# on SIGTERM. --dry-run keeps it from writing scales beside kwake up's own autoscaler. A wrong
# exit is recorded, not fatal, so the other figures still print.
check_autoscaler() {
    local port status="" healthy=""
    port=$(free_port)
    kube_dir=$(mktemp -d /tmp/kwake-kube.XXXXXX)
    # kwake up's kubeconfig (a token of this throwaway localkube), for user 10001 to read: by its
    # group when this user may give files away (root), else by everyone for these few seconds.
    docker exec "$UP_CONTAINER" cat /tmp/kwake/cluster/kubeconfig >"$kube_dir/kubeconfig"
    if chgrp 10001 "$kube_dir" "$kube_dir/kubeconfig" 2>/dev/null; then
        chmod 750 "$kube_dir" && chmod 640 "$kube_dir/kubeconfig"
    else
        chmod 755 "$kube_dir" && chmod 644 "$kube_dir/kubeconfig"
    fi
    log "the autoscaler container (:$port, --dry-run) against kwake up's control plane"
    pods_started=1
    docker run -d --name "$AUTOSCALER_CONTAINER" "${RUN_LIKE_PODS[@]}" --network host \
        -e POD_IP=127.0.0.1 -v "$kube_dir:/kube:ro" \
        "$IMAGE" autoscaler --host=127.0.0.1 --port="$port" --system-namespace=kwake-system \
        --kubeconfig=/kube/kubeconfig --dry-run >/dev/null
    for _ in $(seq 1 60); do
        if curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
            healthy=1
            break
        fi
        [[ $(docker inspect -f '{{.State.Running}}' "$AUTOSCALER_CONTAINER") == true ]] || break
        sleep 0.5
    done
    sleep 2 # a watch or two against the API before it is stopped
    docker stop -t 20 "$AUTOSCALER_CONTAINER" >/dev/null
    status=$(docker inspect -f '{{.State.ExitCode}}' "$AUTOSCALER_CONTAINER")
    if [[ -z $healthy ]]; then
        docker logs "$AUTOSCALER_CONTAINER" 2>&1 | tail -30 >&2
        die "the autoscaler container never passed its probe (/healthz)"
    fi
    if [[ $status == 0 ]]; then
        AUTOSCALER_SUMMARY="  autoscaler pod    probe passed against kwake up's control plane; exit 0 on SIGTERM"
    else
        docker logs "$AUTOSCALER_CONTAINER" 2>&1 | tail -8 >&2
        AUTOSCALER_SUMMARY="  autoscaler pod    probe passed against kwake up's control plane; EXIT $status on SIGTERM"
        FAILURES+=("the autoscaler container exited $status on SIGTERM (its log's last lines above)")
    fi
    docker rm "$AUTOSCALER_CONTAINER" >/dev/null
    pods_started=""
    rm -rf "$kube_dir"
    kube_dir=""
    log "autoscaler container: probe ok, exit $status on docker stop"
}

# A whole kwake (localkube, operator, autoscaler, gateway, the hello pod) in one container on
# the host network; HOST=127.0.0.1 keeps the pod on loopback, since the host's network is the
# container's here. Run twice: with a read-only root as the pods run (it must serve), and with a
# writable root, where `docker diff` shows any path written outside /tmp (there must be none; on
# a read-only root such a write fails instead, maybe quietly).
check_up() {
    local root=$1 port start body="" flags=() flag
    for flag in "${RUN_LIKE_PODS[@]}"; do
        [[ $root == writable && $flag == --read-only ]] || flags+=("$flag")
    done
    port=$(free_port)
    log "kwake up -f examples/hello.yaml, $root root, gateway on 127.0.0.1:$port"
    start=$(now)
    up_started=1
    docker run -d --name "$UP_CONTAINER" "${flags[@]}" --network host \
        -e HOST=127.0.0.1 -v "$REPO/examples:/examples:ro" \
        "$IMAGE" up -f /examples/hello.yaml --gateway-port "$port" --state-dir /tmp/kwake >/dev/null
    for _ in $(seq 1 120); do
        body=$(curl -fsS --max-time 5 -H 'Host: hello.default.localhost' "http://127.0.0.1:$port/" 2>/dev/null || true)
        [[ -n $body ]] && break
        [[ $(docker inspect -f '{{.State.Running}}' "$UP_CONTAINER") == true ]] || break
        sleep 0.5
    done
    if [[ -z $body ]]; then
        docker logs "$UP_CONTAINER" 2>&1 | tail -40 >&2
        die "no answer from hello through the gateway in the container ($root root)"
    fi
    local seconds ok=0 diff status
    seconds=$(seconds_since "$start")
    body=$(tr -d '\n' <<<"$body")
    log "curl from the host -> $body (${seconds} s after docker run)"
    for _ in $(seq 1 10); do
        curl -fsS --max-time 5 -H 'Host: hello.default.localhost' "http://127.0.0.1:$port/" >/dev/null && ok=$((ok + 1))
        sleep 1
    done
    if [[ $root == read-only ]]; then
        check_autoscaler
    fi
    # Mount points (/tmp, /examples) show up as added directories; nothing else may.
    diff=$(docker diff "$UP_CONTAINER" | grep -v -E '^[AC] /(tmp|examples)$' || true)
    docker stop -t 20 "$UP_CONTAINER" >/dev/null
    status=$(docker inspect -f '{{.State.ExitCode}}' "$UP_CONTAINER")
    docker rm "$UP_CONTAINER" >/dev/null
    up_started=""
    [[ -z $diff ]] || die "kwake up wrote outside /tmp: $diff"
    ((ok == 10)) || die "only $ok of 10 requests through the container's gateway answered"
    [[ $status == 0 ]] || die "kwake up exited $status on docker stop"
    local what="exit 0 on docker stop"
    if [[ $root == writable ]]; then
        what="docker diff: nothing written outside /tmp; $what"
    fi
    UP_SUMMARY+=("$(printf '  kwake up, %-10s hello answered "%s" %s s after docker run, 10/10 later requests' \
        "$root" "$body" "$seconds")" "                       $what")
}

# Two containers as a cluster would run two pods of this image: the hello example's container
# (its `command` replaces the entry point) and the gateway with deploy/base/gateway.yaml's
# arguments (bound to loopback, routes from a file instead of a cluster), probed on the paths its
# Deployment probes, then asked for hello. Both must exit 0 on docker stop (SIGTERM).
check_pods() {
    local app_port gw_port admin_port ready="" body=""
    app_port=$(free_port)
    gw_port=$(free_port)
    admin_port=$(free_port)
    routes_dir=$(mktemp -d /tmp/kwake-routes.XXXXXX)
    chmod 755 "$routes_dir" # the gateway runs as 10001 and reads it
    cat >"$routes_dir/routes.yaml" <<YAML
apiVersion: networking.internal.knative.dev/v1alpha1
kind: Ingress
metadata: {name: hello, namespace: default, generation: 1}
spec:
  rules:
    - hosts: [hello.default.example.com]
      visibility: ExternalIP
      http:
        paths:
          - splits:
              - {serviceName: hello-00001, serviceNamespace: default, servicePort: 80, percent: 100}
---
apiVersion: v1
kind: Endpoints
metadata: {name: hello-00001, namespace: default}
subsets:
  - addresses: [{ip: 127.0.0.1}]
    ports: [{name: http, port: $app_port}]
YAML
    chmod 644 "$routes_dir/routes.yaml"
    log "the hello container (python3 -m loadtests.apps.hello on :$app_port) and the gateway" \
        "container (:$gw_port, admin :$admin_port), as two pods"
    pods_started=1
    docker run -d --name "$APP_CONTAINER" "${RUN_LIKE_PODS[@]}" --network host \
        -e HOST=127.0.0.1 -e PORT="$app_port" --entrypoint python3 \
        "$IMAGE" -m loadtests.apps.hello >/dev/null
    docker run -d --name "$GATEWAY_CONTAINER" "${RUN_LIKE_PODS[@]}" --network host \
        -v "$routes_dir:/routes:ro" -e POD_NAME=kwake-gateway-check \
        "$IMAGE" gateway --host=127.0.0.1 --port="$gw_port" --admin-port="$admin_port" \
        --gateway-id=kwake-gateway-check --drain-quiet=1 --drain-timeout=10 \
        --static-routes=/routes/routes.yaml >/dev/null
    for _ in $(seq 1 120); do
        if curl -fsS --max-time 5 -o /dev/null "http://127.0.0.1:$admin_port/ready" 2>/dev/null; then
            ready=1
            break
        fi
        [[ $(docker inspect -f '{{.State.Running}}' "$GATEWAY_CONTAINER") == true ]] || break
        sleep 0.5
    done
    [[ -n $ready ]] || {
        docker logs "$GATEWAY_CONTAINER" 2>&1 | tail -30 >&2
        die "the gateway container never answered its readiness probe (/ready on the admin port)"
    }
    curl -fsS --max-time 5 "http://127.0.0.1:$admin_port/healthz" >/dev/null ||
        die "the gateway container fails its liveness probe (/healthz on the admin port)"
    body=$(curl -fsS --max-time 10 -H 'Host: hello.default.example.com' "http://127.0.0.1:$gw_port/" || true)
    [[ $body == hello ]] || {
        docker logs "$APP_CONTAINER" 2>&1 | tail -20 >&2
        die "hello through the gateway container answered '$body'"
    }
    local container status
    for container in "$GATEWAY_CONTAINER" "$APP_CONTAINER"; do
        docker stop -t 20 "$container" >/dev/null
        status=$(docker inspect -f '{{.State.ExitCode}}' "$container")
        docker rm "$container" >/dev/null
        [[ $status == 0 ]] || die "$container exited $status on docker stop"
    done
    pods_started=""
    rm -rf "$routes_dir"
    routes_dir=""
    PODS_SUMMARY="  as two pods       gateway ready and live on its probes, hello through it; both exit 0 on SIGTERM"
    log "gateway and hello containers: probes ok, hello answered, both stopped with exit 0"
}

mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }

main() {
    ensure_packages
    ensure_dockerd
    ensure_base
    build_image
    check_image
    check_pods
    if [[ -z ${SKIP_UP_CHECK:-} ]]; then
        check_up read-only
        check_up writable
    fi
    cat <<EOF

kwake image $IMAGE
  base              $BASE ($(base_kind), $(mib "$BASE_BYTES")${BASE_SECONDS:+, made in $BASE_SECONDS s})
  build time        ${BUILD_SECONDS} s
  image size        $(mib "$IMAGE_BYTES")
  --help, cold      ${HELP_SECONDS} s (whole docker run, as the pods run it)
  --help, warm      ${WARM_HELP_SECONDS} s (best of three)
  user              $ID_OUTPUT
$PODS_SUMMARY
EOF
    if ((${#UP_SUMMARY[@]})); then
        printf '%s\n' "${UP_SUMMARY[@]}"
    fi
    if [[ -n $AUTOSCALER_SUMMARY ]]; then
        printf '%s\n' "$AUTOSCALER_SUMMARY"
    fi
    if ((${#FAILURES[@]})); then
        printf '\nFAILED:\n' >&2
        printf '  %s\n' "${FAILURES[@]}" >&2
        return 1
    fi
}

# Sourced (the tests read its functions), it only defines them.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
