"""The production and staging overlays start every service with their environment's settings.

Each overlay is rendered with kustomize; every Deployment's environment is put together as the
kubelet would (its ConfigMaps, literal values, and stand-ins for the secrets the operator
creates), and the service's own settings class loads it with all its production checks. A
development default, a missing secret reference or the seed population register in production
fails here rather than in the cluster.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from careflow.kit.settings import ServiceSettings

pytestmark = [pytest.mark.ops, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kustomize() -> str:
    built = subprocess.run(
        ["bash", str(ROOT / "deploy" / "tools" / "install-kustomize.sh")],
        capture_output=True,
        text=True,
    )
    if built.returncode != 0:
        pytest.skip(f"kustomize unavailable: {built.stderr.strip()[-500:]}")
    return built.stdout.strip().splitlines()[-1]


def _render(kustomize: str, overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kustomize, "build", str(ROOT / "deploy" / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def _stand_in(secret: str, key: str) -> str:
    """What the operator's secret manager would hold: real-looking, never a dev default."""
    if key == "url":
        role = secret.removeprefix("careflow-").removesuffix("-database")
        return (
            f"postgresql+asyncpg://{role}:from-the-vault@db.internal:5432/careflow?ssl=verify-full"
        )
    digest = hashlib.sha256(f"{secret}/{key}".encode()).hexdigest()
    return digest if secret == "careflow-journal-signing" else f"vault-{digest}"


def _pod_env(docs: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    maps = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]])  # KeyError: a missing ConfigMap
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]
        if "configMapKeyRef" in ref:
            env[item["name"]] = maps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        else:
            secret = ref["secretKeyRef"]
            env[item["name"]] = _stand_in(secret["name"], secret["key"])
    return env


def _settings_class(service: str) -> type[ServiceSettings]:
    module = importlib.import_module(f"careflow.{service}.settings")
    classes = [
        c
        for _, c in inspect.getmembers(module, inspect.isclass)
        if issubclass(c, ServiceSettings) and c.__module__ == module.__name__
    ]
    assert len(classes) == 1, (service, classes)
    return classes[0]


def _load(
    docs: list[dict[str, Any]], deployment: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> ServiceSettings:
    import os

    for name in list(os.environ):
        if name.startswith(("CAREFLOW_", "KAFKA_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    for name, value in _pod_env(docs, deployment).items():
        monkeypatch.setenv(name, value)
    service = deployment["metadata"]["labels"]["app.kubernetes.io/name"]
    return _settings_class(service)()


def _mounted_from(deployment: dict[str, Any], path: str) -> dict[str, Any]:
    """The volume a file path lies on."""
    pod = deployment["spec"]["template"]["spec"]
    mount = next(
        m for m in pod["containers"][0]["volumeMounts"] if path.startswith(m["mountPath"] + "/")
    )
    volume: dict[str, Any] = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    return volume


def _deployments(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        d["metadata"]["labels"]["app.kubernetes.io/name"]: d
        for d in docs
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"].get("app.kubernetes.io/component") == "service"
    }


def test_the_production_overlay_starts_every_service_with_production_settings(
    kustomize: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from careflow.identity.app import population_register

    docs = _render(kustomize, "prod")
    deployments = _deployments(docs)
    assert {"identity", "triage", "queue", "chat", "journal", "notify"} <= set(deployments)
    for service, deployment in deployments.items():
        settings = _load(docs, deployment, monkeypatch)
        assert settings.environment == "production", service
        assert settings.kafka_security_protocol == "SASL_SSL", service
        assert not settings.migrates_at_start and not settings.serves_api_docs, service

    identity = _load(docs, deployments["identity"], monkeypatch)
    assert identity.population_register == "http"  # type: ignore[attr-defined]
    for path in (
        identity.population_register_certfile,  # type: ignore[attr-defined]
        identity.population_register_keyfile,  # type: ignore[attr-defined]
        identity.population_register_cafile,  # type: ignore[attr-defined]
    ):
        assert _mounted_from(deployments["identity"], path)["secret"]["secretName"] == (
            "careflow-identity-register"
        )
    # The composition root chooses the HTTP register (it loads the certificate files, which
    # exist only in the pod: that step raises FileNotFoundError here, not the seed refusal).
    with pytest.raises(FileNotFoundError):
        population_register(identity)  # type: ignore[arg-type]

    journal = _load(docs, deployments["journal"], monkeypatch)
    checkpoints = journal.journal_checkpoint_dir  # type: ignore[attr-defined]
    claim = _mounted_from(deployments["journal"], checkpoints + "/journal")
    name = claim["persistentVolumeClaim"]["claimName"]
    assert any(d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == name for d in docs)


def test_production_refuses_the_seed_register(
    kustomize: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import ValidationError

    docs = _render(kustomize, "prod")
    identity = _deployments(docs)["identity"]
    for doc in docs:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].startswith(
            "careflow-identity-config"
        ):
            doc["data"]["CAREFLOW_POPULATION_REGISTER"] = "seed"
    with pytest.raises(ValidationError, match="refuses production until a population register"):
        _load(docs, identity, monkeypatch)


def test_the_staging_overlay_runs_with_the_seed_register_and_says_so(
    kustomize: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structlog.testing import capture_logs

    from careflow.identity.app import population_register
    from careflow.identity.register import SeedRegister

    overlay = ROOT / "deploy" / "k8s" / "overlays" / "staging" / "kustomization.yaml"
    assert "SEED population register" in overlay.read_text()
    docs = _render(kustomize, "staging")
    deployments = _deployments(docs)
    for service, deployment in deployments.items():
        assert _load(docs, deployment, monkeypatch).environment == "staging", service
    identity = _load(docs, deployments["identity"], monkeypatch)
    assert identity.population_register == "seed"  # type: ignore[attr-defined]
    # Captured without configuring logging for the whole test session (whose stream pytest
    # closes after this test, while the loggers it bound would keep writing to it).
    with capture_logs() as logs:
        assert isinstance(population_register(identity), SeedRegister)  # type: ignore[arg-type]
    assert any(e["event"] == "population_register_seed" for e in logs)
