"""The deployment files, checked without a container engine: the compose file and every Kubernetes
manifest parse, run real `genrelay` commands that cover every queue, configure valid production
settings and shut down within their grace periods; the image's entry commands run from the install."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from pydantic import AliasChoices

from orchestrator.cli import main
from orchestrator.messaging import all_queues
from orchestrator.ops.console import flower_env
from orchestrator.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# Variables the deployment sets that are not genrelay settings: Celery's, KEDA's.
NOT_SETTINGS = {"REMAP_SIGTERM", "REDIS_ADDRESS", "REDIS_PASSWORD"}
SETTINGS_PREFIXES = ("GENRELAY_", "S3_", "DATABASE_URL", "BROKER_URL", "STORAGE_BACKEND")


def parse_command(argv: list[str]) -> tuple[str, click.Context]:
    """Resolve argv to a `genrelay` (sub)command and parse its options as click would; fail if unknown."""
    command: click.Command = main
    path: list[str] = []
    rest = list(argv)
    while isinstance(command, click.Group):
        assert rest, f"{argv}: names a command group, not a command"
        name = rest.pop(0)
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"`genrelay {' '.join(argv)}`: no command {name!r}"
        command, path = found, [*path, name]
    return " ".join(path), command.make_context(" ".join(path), rest)


def queues_of(argv: list[str]) -> list[str]:
    return argv[argv.index("-Q") + 1].split(",")


# --- compose ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return document


def genrelay_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("genrelay")
    }


def test_deploy_compose_runs_every_part_as_a_genrelay_command(compose: dict[str, Any]) -> None:
    services = genrelay_services(compose)
    commands = {name: parse_command(service["command"])[0] for name, service in services.items()}
    assert commands["api"] == "api"
    assert commands["metrics"] == "metrics"
    assert "9464" in services["metrics"]["expose"]
    assert services["api"]["environment"]["GENRELAY_METRICS_ON_API"] == "false"  # not on the public port
    assert commands["migrate"] == "db upgrade"
    assert commands["flower"] == "flower"
    assert commands["simulator"] == "simulator"
    assert [name for name, command in commands.items() if command == "beat"] == ["beat"]  # exactly one
    assert {"redis", "postgres", "minio"} <= set(compose["services"])
    for service in services.values():
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"


def test_deploy_compose_workers_cover_every_queue_and_shut_down_softly(compose: dict[str, Any]) -> None:
    workers = {
        name: service
        for name, service in genrelay_services(compose).items()
        if parse_command(service["command"])[0] == "worker"
    }
    assert len(workers) >= 4  # split by queue group
    covered = [queue for service in workers.values() for queue in queues_of(service["command"])]
    assert sorted(covered) == sorted(all_queues())  # every queue, each consumed by one group
    for service in workers.values():
        assert service["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
        grace = int(service["stop_grace_period"].removesuffix("s"))
        assert grace > float(service["environment"]["GENRELAY_WORKER_SOFT_SHUTDOWN_S"])


def test_deploy_compose_services_wait_for_the_migration_and_redis_never_evicts(
    compose: dict[str, Any],
) -> None:
    for name, service in genrelay_services(compose).items():
        if name in {"migrate", "simulator"}:
            continue
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
    assert compose["services"]["migrate"]["restart"] == "no"
    redis = compose["services"]["redis"]["command"]
    assert redis[redis.index("--maxmemory-policy") + 1] == "noeviction"
    assert compose["services"]["simulator"]["profiles"] == ["simulator"]  # optional upstream


def interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` / `${NAME:?error}`, with a stand-in for required values."""
    return re.sub(
        r"\$\{(\w+)(?::([-?])([^}]*))?\}", lambda m: m[3] if m[2] == "-" else f"test-{m[1].lower()}", value
    )


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith(SETTINGS_PREFIXES):
            monkeypatch.delenv(name)
    return monkeypatch


def settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    known = {f"GENRELAY_{name.upper()}" for name in Settings.model_fields} | {
        str(choice)
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    }
    for name, value in environment.items():
        if name in NOT_SETTINGS:
            continue
        assert name in known, f"{name} is not a genrelay setting"
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_deploy_compose_environment_is_a_valid_production_configuration(
    compose: dict[str, Any], clean_environment: pytest.MonkeyPatch
) -> None:
    flower = compose["services"]["flower"]["environment"]
    settings = settings_from({k: interpolate(str(v)) for k, v in flower.items()}, clean_environment)
    assert settings.environment == "prod"
    assert settings.storage_backend == "s3"
    assert settings.broker_key_prefix == "genrelay:"
    assert settings.effective_log_format == "json"
    assert "FLOWER_BASIC_AUTH" in flower_env(settings)


# --- Kubernetes -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    documents = [
        document
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]
    for document in documents:
        assert {"apiVersion", "kind", "metadata"} <= set(document), document
    return documents


def of_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [only] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def test_deploy_k8s_manifests_have_every_part(manifests: list[dict[str, Any]]) -> None:
    kinds = {m["kind"] for m in manifests}
    assert {"Deployment", "Service", "ConfigMap", "Secret", "Job", "ScaledObject"} <= kinds
    deployments = of_kind(manifests, "Deployment")
    commands = {name: parse_command(container(d)["args"])[0] for name, d in deployments.items()}
    assert commands["genrelay-api"] == "api"
    assert commands["genrelay-flower"] == "flower"
    assert [name for name, command in commands.items() if command == "beat"] == ["genrelay-beat"]
    [job] = of_kind(manifests, "Job").values()
    assert parse_command(job["spec"]["template"]["spec"]["containers"][0]["args"])[0] == "db upgrade"
    services = of_kind(manifests, "Service")
    assert {"genrelay-api", "genrelay-flower", "genrelay-metrics"} <= set(services)
    # /metrics is scraped from its own Deployment's port; the API's Service carries only the API.
    assert commands["genrelay-metrics"] == "metrics"
    assert services["genrelay-metrics"]["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    assert "prometheus.io/scrape" not in services["genrelay-api"]["metadata"].get("annotations", {})
    [config] = of_kind(manifests, "ConfigMap").values()
    assert config["data"]["GENRELAY_METRICS_ON_API"] == "false"
    for deployment in [*deployments.values(), job]:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == "genrelay"  # one image, set by kustomization.yaml
        assert pod["securityContext"]["runAsNonRoot"] is True
        # Kubernetes would otherwise set GENRELAY_API_PORT=tcp://... (Service genrelay-api): a setting.
        assert pod["enableServiceLinks"] is False


def test_deploy_k8s_beat_is_a_single_recreated_replica(manifests: list[dict[str, Any]]) -> None:
    beat = of_kind(manifests, "Deployment")["genrelay-beat"]
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"
    scaled = {s["spec"]["scaleTargetRef"]["name"] for s in of_kind(manifests, "ScaledObject").values()}
    hpas = {
        h["spec"]["scaleTargetRef"]["name"] for h in of_kind(manifests, "HorizontalPodAutoscaler").values()
    }
    assert "genrelay-beat" not in scaled | hpas


def test_deploy_k8s_workers_cover_every_queue_and_scale_on_their_own_queue_depth(
    manifests: list[dict[str, Any]],
) -> None:
    prefix = of_kind(manifests, "ConfigMap")["genrelay-config"]["data"]["GENRELAY_BROKER_KEY_PREFIX"]
    workers = {
        name: queues_of(container(d)["args"])
        for name, d in of_kind(manifests, "Deployment").items()
        if parse_command(container(d)["args"])[0] == "worker"
    }
    assert sorted(q for queues in workers.values() for q in queues) == sorted(all_queues())
    scaled = of_kind(manifests, "ScaledObject")
    assert scaled  # autoscaling on queue depth (KEDA's redis list-length trigger)
    for scaled_object in scaled.values():
        target = scaled_object["spec"]["scaleTargetRef"]["name"]
        lists = [t["metadata"]["listName"] for t in scaled_object["spec"]["triggers"] if t["type"] == "redis"]
        # Celery's queue on Redis is the list <prefix><queue>: the trigger must watch exactly those.
        assert sorted(lists) == sorted(prefix + queue for queue in workers[target])
        for trigger in scaled_object["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] in of_kind(manifests, "TriggerAuthentication")


def test_deploy_k8s_shutdown_fits_the_grace_periods(manifests: list[dict[str, Any]]) -> None:
    config = of_kind(manifests, "ConfigMap")["genrelay-config"]["data"]
    for deployment in of_kind(manifests, "Deployment").values():
        spec = deployment["spec"]["template"]["spec"]
        args = container(deployment)["args"]
        grace = spec.get("terminationGracePeriodSeconds", 30)  # Kubernetes' default
        if parse_command(args)[0] == "worker":
            env = {e["name"]: e["value"] for e in container(deployment)["env"]}
            assert env["REMAP_SIGTERM"] == "SIGQUIT"  # SIGTERM -> Celery's soft shutdown
            assert grace > float(config["GENRELAY_WORKER_SOFT_SHUTDOWN_S"]) + 10
        if parse_command(args)[0] == "api":
            pre_stop = int(container(deployment)["lifecycle"]["preStop"]["exec"]["command"][-1])
            assert grace > pre_stop + float(config["GENRELAY_API_SHUTDOWN_TIMEOUT_S"])


def test_deploy_k8s_config_and_secrets_are_a_valid_production_configuration(
    manifests: list[dict[str, Any]], clean_environment: pytest.MonkeyPatch
) -> None:
    environment = dict(of_kind(manifests, "ConfigMap")["genrelay-config"]["data"])
    for secret in of_kind(manifests, "Secret").values():
        environment.update(secret["stringData"])
    settings = settings_from(environment, clean_environment)
    assert settings.environment == "prod"
    assert settings.effective_log_format == "json"
    assert "FLOWER_BASIC_AUTH" in flower_env(settings)


def test_deploy_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    # autoscaling-rabbitmq.yaml is the alternative an operator lists in autoscaling.yaml's place.
    alternatives = {"kustomization.yaml", "autoscaling-rabbitmq.yaml"}
    assert listed == {p.name for p in K8S.glob("*.yaml")} - alternatives
    assert [image["name"] for image in kustomization["images"]] == ["genrelay"]


# --- the image --------------------------------------------------------------------------------------


def test_deploy_dockerfile_installs_with_constraints_and_runs_genrelay_unprivileged() -> None:
    lines = [
        line.strip()
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install -c constraints.txt .") for line in lines)
    [user] = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert user.split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["genrelay"]' in lines
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"the image copies {source}, which is not in the repository"


def test_deploy_every_source_folder_is_a_package_so_the_wheel_ships_it() -> None:
    # pyproject's find (not namespace) packages: a folder without __init__.py would be left out of
    # the image; the migrations especially, or `genrelay db upgrade` would find nothing to apply.
    for top in ("orchestrator", "workers", "schemas"):
        for folder in {path.parent for path in (ROOT / top).rglob("*.py")}:
            if "__pycache__" not in folder.parts:
                assert (folder / "__init__.py").exists(), f"{folder} is not a package"


ENTRY_COMMANDS = [["api"], ["metrics"], ["worker"], ["beat"], ["flower"], ["db", "upgrade"], ["simulator"]]


@pytest.mark.parametrize("argv", ENTRY_COMMANDS, ids=" ".join)
def test_deploy_entry_command_runs_from_the_installed_package(argv: list[str], tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "genrelay"
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith(SETTINGS_PREFIXES)
    }
    result = subprocess.run(
        [str(executable), *argv, "--help"],
        cwd=tmp_path,  # not the source tree: the installed entry point and package
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: genrelay {' '.join(argv)} ")
