"""The generated parts of the deploy files: the committed files are what the provider registry renders,
and another provider or queue group changes exactly its own workers and triggers, in a form that
tests/test_deploy.py's checks accept."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrator.messaging import all_queues, poll_task, submit_task
from orchestrator.ops import deploy_files
from tests.test_deploy import container, genrelay_services, of_kind, parse_command, queues_of
from workers.providers import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
# Today's providers as they declare themselves (a new provider is added to the files by the registry).
TODAY = {
    "hailuo": ("video", "MiniMax Hailuo"),
    "kling": ("video", "Kling"),
    "midjourney": ("image-music", "Midjourney"),
    "replicate": ("image-music", "Replicate"),
    "runway": ("video", "Runway"),
    "seedance": ("video", "ByteDance Seedance"),
    "sora": ("video", "OpenAI Sora"),
    "suno": ("image-music", "Suno"),
    "veo": ("video", "Veo"),
}
PROVIDER_GROUPS = deploy_files.provider_groups(PROVIDERS)
VIDEO_QUEUES = (
    "hailuo.submit,hailuo.poll,kling.submit,kling.poll,runway.submit,runway.poll,"
    "seedance.submit,seedance.poll,sora.submit,sora.poll,veo.submit,veo.poll"
)
# A provider that could come next (Alibaba's Wan), for what adding one changes.
NEXT = {"wan": ("video", "Wan")}


def changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """The lines `new` removes from `old` and the lines it adds."""
    diff = list(difflib.ndiff(old.splitlines(), new.splitlines()))
    return [line[2:] for line in diff if line.startswith("- ")], [
        line[2:] for line in diff if line.startswith("+ ")
    ]


def manifests_with(rendered: dict[Path, str]) -> list[dict[str, Any]]:
    """Every Kubernetes manifest, the generated files as `rendered`."""
    texts = {
        path: path.read_text() for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
    }
    texts |= {path: text for path, text in rendered.items() if path.parent == K8S}
    return [document for text in texts.values() for document in yaml.safe_load_all(text) if document]


def test_deploy_files_provider_groups_are_what_the_providers_declare() -> None:
    assert PROVIDER_GROUPS == TODAY


def test_deploy_files_committed_files_are_what_the_registry_renders() -> None:
    for path, text in deploy_files.render(ROOT, PROVIDER_GROUPS).items():
        committed = path.read_text()
        assert committed == text, "".join(
            difflib.unified_diff(committed.splitlines(True), text.splitlines(True), str(path), "rendered")
        )
    assert deploy_files.stale(ROOT, PROVIDER_GROUPS) == []


def test_deploy_files_worker_groups_keep_each_queue_group_in_order() -> None:
    groups = deploy_files.worker_groups(PROVIDER_GROUPS)
    assert [group.name for group in groups] == ["video", "image-music", "store", "deliver", "sweep"]
    assert ",".join(groups[0].queues) == VIDEO_QUEUES
    assert groups[0].description == (
        "MiniMax Hailuo, Kling, Runway, ByteDance Seedance, OpenAI Sora and Veo: submit and poll"
    )
    assert groups[1].description == "Midjourney, Replicate and Suno: submit and poll"
    assert sorted(q for group in groups for q in group.queues) == sorted(all_queues())


def test_deploy_files_refuse_a_provider_group_named_like_a_fixed_group() -> None:
    with pytest.raises(ValueError, match="store"):
        deploy_files.worker_groups({**PROVIDER_GROUPS, "fal": ("store", "fal.ai")})


def test_deploy_files_another_provider_adds_only_its_queues_and_triggers() -> None:
    before = deploy_files.render(ROOT, PROVIDER_GROUPS)
    after = deploy_files.render(ROOT, {**PROVIDER_GROUPS, **NEXT})
    assert after.keys() == before.keys()
    with_wan = f"{VIDEO_QUEUES},wan.submit,wan.poll"
    compose, workers, autoscaling = (
        ROOT / path for path in (deploy_files.COMPOSE, deploy_files.WORKERS, deploy_files.AUTOSCALING)
    )

    def command(indent: str, key: str, queues: str) -> str:
        return f'{indent}{key}: ["worker", "-Q", "{queues}", "--concurrency", "4"]'

    assert changed_lines(before[compose], after[compose]) == (
        [command("    ", "command", VIDEO_QUEUES)],
        [command("    ", "command", with_wan)],
    )
    assert changed_lines(before[workers], after[workers]) == (
        [
            "# MiniMax Hailuo, Kling, Runway, ByteDance Seedance, OpenAI Sora and Veo: submit and poll",
            command("          ", "args", VIDEO_QUEUES),
        ],
        [
            "# MiniMax Hailuo, Kling, Runway, ByteDance Seedance, OpenAI Sora, Veo and Wan: submit and poll",
            command("          ", "args", with_wan),
        ],
    )
    removed, added = changed_lines(before[autoscaling], after[autoscaling])
    trigger_lines = [
        deploy_files.TRIGGER.format(list_name=f'"genrelay:{queue}"', list_length=20).splitlines()
        for queue in ("wan.submit", "wan.poll")
    ]
    assert removed == []
    assert sorted(added) == sorted(trigger_lines[0] + trigger_lines[1])
    old, new = (of_kind(manifests_with(rendered), "ScaledObject") for rendered in (before, after))
    lists = [t["metadata"]["listName"] for t in new["genrelay-worker-video"]["spec"]["triggers"]]
    assert lists == [f"genrelay:{queue}" for queue in with_wan.split(",")]
    assert {k: v for k, v in new.items() if k != "genrelay-worker-video"} == {
        k: v for k, v in old.items() if k != "genrelay-worker-video"
    }


def test_deploy_files_rabbitmq_autoscaling_watches_the_same_queues_as_the_redis_one() -> None:
    files = deploy_files.render(ROOT, {**PROVIDER_GROUPS, **NEXT})
    on_redis, on_rabbitmq = (
        of_kind(list(yaml.safe_load_all(files[ROOT / path])), "ScaledObject")
        for path in (deploy_files.AUTOSCALING, deploy_files.AUTOSCALING_RABBITMQ)
    )
    assert on_rabbitmq.keys() == on_redis.keys()
    for name, scaled_object in on_rabbitmq.items():
        triggers = scaled_object["spec"].pop("triggers")
        redis_triggers = on_redis[name]["spec"].pop("triggers")
        assert scaled_object == on_redis[name]  # replicas, cooldown and behaviour as on Redis
        assert [t["metadata"]["queueName"] for t in triggers] == [
            t["metadata"]["listName"].removeprefix(deploy_files.KEY_PREFIX) for t in redis_triggers
        ]
        assert {(t["type"], t["metadata"]["mode"], t["authenticationRef"]["name"]) for t in triggers} == {
            ("rabbitmq", "QueueLength", "genrelay-rabbitmq")
        }


@pytest.fixture(scope="module")
def with_fal() -> dict[Path, str]:
    return deploy_files.render(ROOT, {**PROVIDER_GROUPS, "fal": ("predictions", "fal.ai")})


def every_queue_with_fal() -> list[str]:
    return sorted([*all_queues(), submit_task("fal"), poll_task("fal")])


def test_deploy_files_a_new_queue_group_gets_its_own_compose_worker(with_fal: dict[Path, str]) -> None:
    compose = yaml.safe_load(with_fal[ROOT / deploy_files.COMPOSE])
    workers = {
        name: service
        for name, service in genrelay_services(compose).items()
        if parse_command(service["command"])[0] == "worker"
    }
    assert queues_of(workers["worker-predictions"]["command"]) == ["fal.submit", "fal.poll"]
    covered = [queue for service in workers.values() for queue in queues_of(service["command"])]
    assert sorted(covered) == every_queue_with_fal()
    for service in workers.values():
        assert service["environment"]["REMAP_SIGTERM"] == "SIGQUIT"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        grace = int(service["stop_grace_period"].removesuffix("s"))
        assert grace > float(service["environment"]["GENRELAY_WORKER_SOFT_SHUTDOWN_S"])


def test_deploy_files_a_new_queue_group_gets_a_deployment_scaled_on_its_queues(
    with_fal: dict[Path, str],
) -> None:
    manifests = manifests_with(with_fal)
    config = of_kind(manifests, "ConfigMap")["genrelay-config"]["data"]
    deployments = of_kind(manifests, "Deployment")
    workers = {
        name: queues_of(container(d)["args"])
        for name, d in deployments.items()
        if parse_command(container(d)["args"])[0] == "worker"
    }
    assert workers["genrelay-worker-predictions"] == ["fal.submit", "fal.poll"]
    assert sorted(q for queues in workers.values() for q in queues) == every_queue_with_fal()
    for name in workers:
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == "genrelay"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["enableServiceLinks"] is False
        assert {e["name"]: e["value"] for e in container(deployments[name])["env"]}[
            "REMAP_SIGTERM"
        ] == "SIGQUIT"
        assert pod["terminationGracePeriodSeconds"] > float(config["GENRELAY_WORKER_SOFT_SHUTDOWN_S"]) + 10
    scaled = of_kind(manifests, "ScaledObject")
    assert "genrelay-worker-predictions" in scaled
    for scaled_object in scaled.values():
        target = scaled_object["spec"]["scaleTargetRef"]["name"]
        lists = [t["metadata"]["listName"] for t in scaled_object["spec"]["triggers"] if t["type"] == "redis"]
        assert sorted(lists) == sorted(config["GENRELAY_BROKER_KEY_PREFIX"] + q for q in workers[target])
        for trigger in scaled_object["spec"]["triggers"]:
            assert trigger["authenticationRef"]["name"] in of_kind(manifests, "TriggerAuthentication")


def test_deploy_files_write_rewrites_only_what_changed(tmp_path: Path) -> None:
    for path in deploy_files.ALL_FILES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    assert deploy_files.write(tmp_path, PROVIDER_GROUPS) == []
    grown = {**PROVIDER_GROUPS, **NEXT}
    expected = [tmp_path / path for path in deploy_files.ALL_FILES]
    assert deploy_files.stale(tmp_path, grown) == expected
    assert deploy_files.write(tmp_path, grown) == expected
    assert deploy_files.stale(tmp_path, grown) == []
    (tmp_path / deploy_files.COMPOSE).write_text("services: {}\n")
    with pytest.raises(ValueError, match="generated worker services"):
        deploy_files.render(tmp_path, grown)


def test_deploy_files_render_command_checks_and_rewrites(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from orchestrator.cli import main

    for path in deploy_files.ALL_FILES:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    runner = CliRunner()
    assert runner.invoke(main, ["deploy", "render", "--check", "--root", str(tmp_path)]).exit_code == 0
    edited = tmp_path / deploy_files.WORKERS
    edited.write_text(edited.read_text().replace("veo.poll", "veo.pol"))
    refused = runner.invoke(main, ["deploy", "render", "--check", "--root", str(tmp_path)])
    assert refused.exit_code == 1
    assert "workers.yaml" in refused.output
    rewritten = runner.invoke(main, ["deploy", "render", "--root", str(tmp_path)])
    assert rewritten.exit_code == 0
    assert edited.read_text() == (ROOT / deploy_files.WORKERS).read_text()
