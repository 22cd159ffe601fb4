"""The deployment files agree with the code they deploy.

docker-compose.yml, deploy/k8s/ and deploy/Dockerfile are read as data and checked
against Vigil itself: the CLI's commands, the settings' fields (and a real load of each
role's settings from its environment and config file), the API's routes, the ports and
images that services, probes and Services name, and the vLLM flags the engine tests run.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml
from pydantic import BaseModel

import agent.cli.app
from agent.runtime.config import CONFIG_ENV, VigilSettings, load_settings
from agent.runtime.liveness import WRITE_PERIOD_S, heartbeat_file

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
EXAMPLE_CONFIG = DEPLOY / "vigil.example.yaml"
ADAPTER_VALUES = K8S / "monitoring" / "prometheus-adapter-values.yaml"
VIGIL_IMAGE_K8S = "registry.example.com/vigil"
ROLES = {"ingest", "scheduler", "worker", "dispatcher", "api", "mqtt", "archiver"}
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")

Doc = dict[str, Any]


# ---- reading the files ----


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def compose() -> Doc:
    loaded: Doc = _yaml(COMPOSE_FILE)
    return loaded


def k8s_files() -> list[Path]:
    return sorted(K8S.rglob("*.yaml"))


def k8s_objects() -> list[Doc]:
    """Every Kubernetes object under deploy/k8s (the adapter's Helm values are not one)."""
    docs: list[Doc] = []
    for path in k8s_files():
        if path in (ADAPTER_VALUES, K8S / "kustomization.yaml"):
            continue
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return docs


def k8s_kind(kind: str) -> list[Doc]:
    return [doc for doc in k8s_objects() if doc["kind"] == kind]


def k8s_named(kind: str, name: str) -> Doc:
    (doc,) = [doc for doc in k8s_kind(kind) if doc["metadata"]["name"] == name]
    return doc


def pod_containers(workload: Doc) -> list[Doc]:
    containers: list[Doc] = workload["spec"]["template"]["spec"]["containers"]
    return containers


def vigil_deployments() -> dict[str, Doc]:
    """Vigil's Deployments by role (the command after `vigil`)."""
    roles: dict[str, Doc] = {}
    for deployment in k8s_kind("Deployment"):
        (container, *_) = pod_containers(deployment)
        if container["image"].startswith(VIGIL_IMAGE_K8S + ":"):
            roles[container["command"][1]] = deployment
    return roles


def vigil_container(role: str) -> Doc:
    return pod_containers(vigil_deployments()[role])[0]


def dockerfile_instructions(name: str) -> list[str]:
    """The arguments of every ``name`` instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(name + " ")]


def entrypoint() -> list[str]:
    (line,) = dockerfile_instructions("ENTRYPOINT")
    argv: list[str] = json.loads(line)
    return argv


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in dockerfile_instructions("ENV"):
        for pair in line.split():
            name, value = pair.split("=", 1)
            env[name] = value
    return env


def interpolate(value: object) -> str:
    """Compose's ``${NAME:-default}`` as it reads with NAME unset."""
    return _INTERPOLATION.sub(lambda match: match.group(2) or "", str(value))


def compose_vigil_services() -> dict[str, Doc]:
    services: dict[str, Doc] = compose()["services"]
    return {name: svc for name, svc in services.items() if svc.get("image") == "vigil:local"}


def compose_env(service: Doc) -> dict[str, str]:
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    return {str(key): interpolate(value) for key, value in raw.items()}


def secret_data() -> dict[str, str]:
    data: dict[str, str] = k8s_named("Secret", "vigil-secrets")["stringData"]
    return data


POD_FIELDS = {"metadata.name": "vigil-ingest-5d8f7c-x2k4q"}  # what the downward API gives


def k8s_env(container: Doc) -> dict[str, str]:
    """A container's environment with Secret references resolved from secret.yaml and
    pod fields from the downward API."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
            continue
        if "fieldRef" in item["valueFrom"]:
            env[item["name"]] = POD_FIELDS[item["valueFrom"]["fieldRef"]["fieldPath"]]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "vigil-secrets", item
        if ref.get("optional") and ref["key"] not in secret_data():
            continue
        env[item["name"]] = secret_data()[ref["key"]]
    return env


def flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def vllm_argv_compose() -> list[str]:
    service = compose()["services"]["vllm"]
    return [str(arg) for arg in service["entrypoint"] + service["command"]]


def vllm_argv_k8s() -> list[str]:
    (container,) = pod_containers(k8s_named("Deployment", "vllm"))
    return [str(arg) for arg in container["command"] + container["args"]]


# ---- resolving against Vigil ----


def cli_command(argv: list[str]) -> object | None:
    """The command ``vigil argv…`` runs, or None when there is none.

    Typer's command objects are click's (vendored in recent Typer): groups hold their
    sub-commands in ``commands``.
    """
    command: object = typer.main.get_command(agent.cli.app.app)
    for word in argv:
        commands: dict[str, object] = getattr(command, "commands", {})
        if word not in commands:
            return None
        command = commands[word]
    return command


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def settings_path(env_name: str) -> list[str] | None:
    """The settings field a ``VIGIL_*`` variable sets (``__`` nests), or None."""
    parts = env_name.removeprefix("VIGIL_").lower().split("__")
    model: type[BaseModel] | None = VigilSettings
    for part in parts:
        if model is None or part not in model.model_fields:
            return None
        model = _nested_model(model.model_fields[part].annotation)
    return parts


def is_read_by_vigil(env_name: str) -> bool:
    return env_name == CONFIG_ENV or settings_path(env_name) is not None


LoadSettings = Callable[[Mapping[str, str], Path], VigilSettings]


@pytest.fixture
def role_settings(monkeypatch: pytest.MonkeyPatch) -> LoadSettings:
    """Loads settings as a role would: its environment over its config file."""

    def load(env: Mapping[str, str], config_file: Path) -> VigilSettings:
        for name in [name for name in os.environ if name.startswith("VIGIL_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            if name != CONFIG_ENV:
                monkeypatch.setenv(name, value)
        return load_settings(config_file)

    return load


def api_get_paths() -> set[str]:
    import redis.asyncio as aioredis

    from agent.api.app import create_app
    from agent.runtime.service import api_state
    from streams.bus.keys import Keys

    state = api_state(VigilSettings(), aioredis.Redis(), Keys("vigil:"))
    app = create_app(state)
    return {
        str(getattr(route, "path", ""))
        for route in app.routes
        if "GET" in (getattr(route, "methods", None) or set())
    }


# ---- the tests ----


def test_every_file_parses() -> None:
    assert isinstance(compose()["services"], dict)
    assert isinstance(_yaml(EXAMPLE_CONFIG), dict)
    assert isinstance(_yaml(ADAPTER_VALUES), dict)
    for doc in k8s_objects():
        assert {"apiVersion", "kind", "metadata"} <= doc.keys(), doc
        assert doc["metadata"].get("name"), doc


def test_kustomization_lists_every_manifest() -> None:
    kustomization = _yaml(K8S / "kustomization.yaml")
    top_level = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == top_level
    assert [image["name"] for image in kustomization["images"]] == [VIGIL_IMAGE_K8S]


def test_every_role_is_a_cli_command() -> None:
    assert entrypoint() == ["vigil"]
    compose_roles = {
        name: entrypoint()[1:] + [str(arg) for arg in svc["command"]]
        for name, svc in compose_vigil_services().items()
    }
    assert {argv[0] for argv in compose_roles.values()} == ROLES
    for argv in compose_roles.values():
        assert cli_command(argv) is not None, f"`vigil {' '.join(argv)}` is not a command"
    assert set(vigil_deployments()) == ROLES
    for role in ROLES:
        command = vigil_container(role)["command"]
        assert command[0] == "vigil"
        assert cli_command(command[1:]) is not None, f"`{' '.join(command)}` is not a command"


def test_every_vigil_variable_is_a_setting() -> None:
    names = set(dockerfile_env())
    names |= {name for svc in compose_vigil_services().values() for name in compose_env(svc)}
    for role in ROLES:
        names |= set(k8s_env(vigil_container(role)))
    vigil_names = {name for name in names if name.startswith("VIGIL_")}
    assert {"VIGIL_REDIS_URL", "VIGIL_ENGINE__BASE_URLS", "VIGIL_API__HOST"} <= vigil_names
    unknown = sorted(name for name in vigil_names if not is_read_by_vigil(name))
    assert not unknown, f"set in the deployment files but read by no setting: {unknown}"


def test_settings_path_follows_nesting() -> None:
    assert settings_path("VIGIL_ENGINE__BASE_URLS") == ["engine", "base_urls"]
    assert settings_path("VIGIL_ENGINE__NO_SUCH_FIELD") is None
    assert settings_path("VIGIL_REDIS_URL__HOST") is None
    assert settings_path("VIGIL_API_HOST") is None


def test_compose_roles_load_their_settings(role_settings: LoadSettings) -> None:
    vllm_port = int(flag(vllm_argv_compose(), "--port"))
    for name, service in compose_vigil_services().items():
        env = compose_env(service)
        (mount,) = [volume for volume in service["volumes"] if isinstance(volume, dict)]
        assert mount["target"] == env[CONFIG_ENV]
        assert mount["read_only"] is True
        assert mount["source"] == "./vigil.yaml"
        settings = role_settings(env, EXAMPLE_CONFIG)
        assert settings.redis_url is not None, name
        assert urlsplit(settings.redis_url.get_secret_value()).hostname == "redis"
        if name == "worker":
            assert settings.engine.kind == "openai"
            for url in settings.engine.base_urls:
                assert (urlsplit(url).hostname, urlsplit(url).port) == ("vllm", vllm_port)
            assert settings.engine.request_model == flag(vllm_argv_compose(), "--served-model-name")


def test_k8s_roles_load_their_settings(role_settings: LoadSettings, tmp_path: Path) -> None:
    config = k8s_named("ConfigMap", "vigil-config")["data"]["vigil.yaml"]
    (tmp_path / "vigil.yaml").write_text(config)
    services = {svc["metadata"]["name"]: svc for svc in k8s_kind("Service")}
    for role in ROLES:
        container = vigil_container(role)
        env = k8s_env(container)
        assert env[CONFIG_ENV] == "/etc/vigil/vigil.yaml"
        mount = {m["name"]: m for m in container["volumeMounts"]}["config"]
        assert mount["mountPath"] == "/etc/vigil"
        assert mount["readOnly"] is True
        settings = role_settings(env, tmp_path / "vigil.yaml")
        assert settings.cameras, f"{role} would seed the demo camera"
        assert settings.redis_url is not None
        assert urlsplit(settings.redis_url.get_secret_value()).hostname in services
        if role == "worker":
            assert settings.engine.kind == "openai"
            for url in settings.engine.base_urls:
                host, port = urlsplit(url).hostname, urlsplit(url).port
                assert host in services, url
                assert port in [p["port"] for p in services[host]["spec"]["ports"]], url
            assert settings.engine.request_model == flag(vllm_argv_k8s(), "--served-model-name")


def test_secret_redis_url_carries_the_password() -> None:
    data = secret_data()
    assert urlsplit(data["redis-url"]).password == data["redis-password"]
    assert all(camera["id"] and camera["url"] for camera in json.loads(data["cameras"]))


def test_probes_point_at_api_routes() -> None:
    paths = api_get_paths()
    api = vigil_container("api")
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"/readyz", "/healthz", "/metrics"} <= paths
    check = compose()["services"]["api"]["healthcheck"]["test"][-1]
    assert urlsplit(re.findall(r"'(http[^']+)'", check)[0]).path in paths
    (monitor,) = [
        doc for doc in k8s_kind("ServiceMonitor") if doc["metadata"]["name"] == "vigil-api"
    ]
    assert all(endpoint["path"] in paths for endpoint in monitor["spec"]["endpoints"])


def test_api_listens_where_ports_and_probes_say(role_settings: LoadSettings) -> None:
    env = compose_env(compose()["services"]["api"])
    settings = role_settings(env, EXAMPLE_CONFIG)
    assert settings.api.host == "0.0.0.0"
    published = compose()["services"]["api"]["ports"]
    assert [str(p).rsplit(":", 1)[1] for p in published] == [str(settings.api.port)]
    check = compose()["services"]["api"]["healthcheck"]["test"][-1]
    assert urlsplit(re.findall(r"'(http[^']+)'", check)[0]).port == settings.api.port
    container = vigil_container("api")
    k8s_api = k8s_env(container)
    assert k8s_api["VIGIL_API__HOST"] == "0.0.0.0"
    (port,) = container["ports"]
    assert int(k8s_api["VIGIL_API__PORT"]) == port["containerPort"]


def _selected(service: Doc) -> list[Doc]:
    selector = service["spec"]["selector"]
    workloads = k8s_kind("Deployment") + k8s_kind("StatefulSet")
    return [
        workload
        for workload in workloads
        if selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    ]


def test_services_and_probes_name_real_ports() -> None:
    for service in k8s_kind("Service"):
        (workload,) = _selected(service)
        named = {
            port["name"]: port["containerPort"]
            for container in pod_containers(workload)
            for port in container.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in named, (service["metadata"]["name"], port)
    for workload in k8s_kind("Deployment") + k8s_kind("StatefulSet"):
        assert workload["spec"]["selector"]["matchLabels"].items() <= (
            workload["spec"]["template"]["metadata"]["labels"].items()
        )
        for container in pod_containers(workload):
            names = {port["name"] for port in container.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                http = container.get(probe, {}).get("httpGet")
                if http is not None:
                    assert http["port"] in names, (container["name"], probe)


def test_images_agree() -> None:
    for role in ROLES:
        assert vigil_container(role)["image"] == vigil_container("api")["image"]
    for service in compose_vigil_services().values():
        assert service["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
    (vllm_k8s,) = pod_containers(k8s_named("Deployment", "vllm"))
    assert compose()["services"]["vllm"]["image"] == vllm_k8s["image"]
    assert vllm_k8s["image"].startswith("vllm/vllm-openai:v")


def _tested_server_flags() -> list[str]:
    from tests.servers.vllm import server_command

    return server_command(Path("model"), 8000)


@pytest.mark.parametrize("source", ["compose", "k8s"])
def test_vllm_serves_what_vigil_sends(source: str) -> None:
    argv = vllm_argv_compose() if source == "compose" else vllm_argv_k8s()
    tested = _tested_server_flags()
    assert argv[:2] == ["vllm", "serve"]
    assert "--trust-request-mm-kwargs" in argv
    for name in ("--limit-mm-per-prompt", "--structured-outputs-config"):
        assert json.loads(flag(argv, name)) == json.loads(flag(tested, name)), name
    media = json.loads(flag(argv, "--media-io-kwargs"))["video"]
    assert json.loads(flag(tested, "--media-io-kwargs"))["video"].items() <= media.items()
    assert media["fps"] == VigilSettings().ingest.fps
    assert flag(argv, "--host") == "0.0.0.0"
    assert int(flag(argv, "--max-model-len")) >= 8192


def test_compose_wiring() -> None:
    services = compose()["services"]
    redis = services["redis"]
    assert flag(redis["command"], "--appendonly") == "yes"
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert "/health" in services["vllm"]["healthcheck"]["test"][-1]
    (device,) = services["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia"
    assert "gpu" in device["capabilities"]
    declared = set(compose()["volumes"])
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        for volume in service.get("volumes", []):
            if isinstance(volume, str):
                assert volume.split(":", 1)[0] in declared, (name, volume)
    for name, service in compose_vigil_services().items():
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    assert services["worker"]["depends_on"]["vllm"] == {"condition": "service_healthy"}
    # The API searches the archive the archiver writes: one volume, at the data dir's archive.
    archive_mount = f"archive-data:{dockerfile_env()['VIGIL_DATA_DIR']}/archive"
    assert archive_mount in services["archiver"]["volumes"]
    assert archive_mount in services["api"]["volumes"]


def test_k8s_workloads() -> None:
    for workload in k8s_kind("Deployment") + k8s_kind("StatefulSet"):
        for container in pod_containers(workload):
            resources = container["resources"]
            assert resources["requests"], container["name"]
            assert resources["limits"], container["name"]
    (vllm,) = pod_containers(k8s_named("Deployment", "vllm"))
    assert vllm["resources"]["requests"]["nvidia.com/gpu"] == 1
    assert vllm["resources"]["limits"]["nvidia.com/gpu"] == 1
    redis = k8s_named("StatefulSet", "redis")
    (redis_container, *_) = pod_containers(redis)
    assert flag(redis_container["args"], "--appendonly") == "yes"
    assert redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    for role in ROLES:
        spec = vigil_deployments()[role]["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True


def test_worker_autoscaler_reads_the_adapter_metric() -> None:
    hpa = k8s_named("HorizontalPodAutoscaler", "vigil-worker")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "vigil-worker")
    external = [m["external"]["metric"]["name"] for m in hpa["spec"]["metrics"]
                if m["type"] == "External"]  # fmt: skip
    served = [rule["name"]["as"] for rule in _yaml(ADAPTER_VALUES)["rules"]["external"]]
    assert external
    assert set(external) <= set(served)
    (exporter,) = [
        c for c in pod_containers(k8s_named("StatefulSet", "redis")) if c["name"] == "exporter"
    ]
    streams = k8s_env(exporter)["REDIS_EXPORTER_CHECK_SINGLE_STREAMS"]
    from streams.bus.keys import Keys

    assert streams == f"db0={Keys(VigilSettings().key_prefix).jobs}"


def test_dockerfile_builds_a_non_root_image_from_the_project() -> None:
    (build_base, runtime_base) = dockerfile_instructions("FROM")
    assert build_base.startswith("${PYTHON_IMAGE} AS build")
    assert runtime_base == "${PYTHON_IMAGE}"
    (arg,) = [a for a in dockerfile_instructions("ARG") if a.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11-slim(-\w+)?", arg)
    (user,) = dockerfile_instructions("USER")
    assert user.split(":")[0] not in {"root", "0"}
    runs = " ".join(dockerfile_instructions("RUN"))
    assert "fonts-dejavu-core" in runs
    assert "pip install -c constraints.txt ." in runs


def test_build_context_holds_what_the_dockerfile_copies() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    allowed = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    for copy in dockerfile_instructions("COPY"):
        if copy.startswith("--from="):
            continue
        for source in copy.split()[:-1]:
            assert source in allowed, f"COPY {source} is not in the build context"
    assert not {".venv", ".git", "vigil.yaml", ".vigil"} & allowed


def test_constraints_pin_every_runtime_dependency() -> None:
    pins = {
        line.split("==")[0].lower()
        for line in (DEPLOY / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {
        re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    assert names <= pins, names - pins


def test_the_image_and_the_runtime_dependencies_hold_no_torch() -> None:
    """Ingest, scheduler, dispatcher, API and HTTP workers never import torch; only the
    in-process engine (the ``gpu`` extra, vLLM) brings it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert not {"torch", "torchvision", "qwen-vl-utils"} & set(re.findall(r"[\w-]+", runtime))
    installs = " ".join(dockerfile_instructions("RUN"))
    assert "torch" not in installs.replace("find_spec('torch') is not None", "")


def _liveness_command(argv: list[str], data_dir: Path, role: str) -> float:
    """The maximum age the probe allows, after checking it reads the role's own heartbeat."""
    assert argv[:3] == ["python", "-m", "agent.runtime.liveness"], (role, argv)
    assert Path(argv[3]) == heartbeat_file(data_dir, role), (role, argv)
    return float(argv[4])


def test_roles_without_http_are_probed_by_their_own_heartbeat(
    role_settings: LoadSettings,
) -> None:
    """Compose and Kubernetes probe ingest, scheduler, worker and dispatcher with the
    heartbeat file each writes under the image's data directory, on a writable volume,
    allowing more than the slowest loop's round and the heartbeat's write period."""
    slowest_round_s = VigilSettings().ingest.lease_s / 3  # ingest steps every lease / 3
    least_age_s = 3 * (slowest_round_s + WRITE_PERIOD_S)
    for role in ROLES - {"api"}:
        service = compose()["services"][role]
        image_env = {k: v for k, v in dockerfile_env().items() if k.startswith("VIGIL_")}
        settings = role_settings({**image_env, **compose_env(service)}, EXAMPLE_CONFIG)
        assert settings.data_dir == Path(image_env["VIGIL_DATA_DIR"])
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD"
        assert _liveness_command(test[1:], settings.data_dir, role) >= least_age_s

        container = vigil_container(role)
        assert "VIGIL_DATA_DIR" not in k8s_env(container)
        command = container["livenessProbe"]["exec"]["command"]
        assert _liveness_command(command, settings.data_dir, role) >= least_age_s
        mounts = [Path(mount["mountPath"]) for mount in container["volumeMounts"]]
        assert any(
            settings.data_dir.is_relative_to(mount) and not mount.is_relative_to("/etc/vigil")
            for mount in mounts
        ), (role, mounts)
