"""`hubdeploy local up`: the whole pipeline on one machine, from the model pin to an HTTP answer.

The production path against the AWS emulator: emulator -> bootstrap -> fetch -> build -> publish ->
terraform plan/apply (the real env root, through the emulator override, in a work copy) -> serve the
endpoint and the API -> ask sample sentences and run the deploy smoke test. Every step gets Settings
pointed at the emulator (`emulator.process.emulated_settings`); the process environment is never changed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hubdeploy.artifacts.standin import SAMPLES
from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import ModelPin, check_env, read_pin
from hubdeploy.errors import LocalStackError
from hubdeploy.fsutil import atomic_write_json
from hubdeploy.infra.emulator.process import emulated_settings
from hubdeploy.local import services
from hubdeploy.local.access import client_headers, client_settings, curl_command, local_access
from hubdeploy.local.layout import Paths
from hubdeploy.local.modelsource import ModelSource, choose_model_source, print_standin_banner
from hubdeploy.local.processes import http_json, locked
from hubdeploy.local.status import status_of
from hubdeploy.settings import Settings

if TYPE_CHECKING:
    from hubdeploy.artifacts.standin import StandIn

Out = Callable[[str], None]
# terraform/root's SageMaker module: an apply that changes only its resources (a pin change) leaves the API alone
ENDPOINT_MODULE = "module.endpoint."


class Progress:
    """`[n/N] step ...` lines with the time each step took, on stdout."""

    def __init__(self, total: int, *, out: Out = print) -> None:
        self.total = total
        self.n = 0
        self.out = out
        self.started = time.monotonic()

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        self.n += 1
        self.out(f"[{self.n}/{self.total}] {title} ...")
        t0 = time.monotonic()
        yield
        self.out(f"      done in {time.monotonic() - t0:.1f}s")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass(frozen=True)
class Ports:
    """Requested ports (0 = any free one)."""

    api: int = 0
    runtime: int = 0
    emulator: int = 0


@dataclass(frozen=True)
class Deployed:
    """What terraform apply left in the emulator, from the env root's outputs."""

    outputs: dict[str, Any]
    api_url: str
    endpoint_name: str
    auth: dict[str, Any]
    client_secret: str | None

    @classmethod
    def of(cls, outputs: dict[str, Any]) -> Deployed:
        try:
            return cls(
                outputs=outputs,
                api_url=outputs["api_url"],
                endpoint_name=outputs["endpoint_name"],
                auth=dict(outputs.get("auth") or {}),
                client_secret=outputs.get("auth_client_secret"),
            )
        except KeyError as exc:
            raise LocalStackError(
                f"terraform: the env root has no output {exc}",
                hint="the root must output api_url, endpoint_name and auth",
            ) from None


def up(
    settings: Settings,
    *,
    env: str = "dev",
    api_port: int = 0,
    runtime_port: int = 0,
    emulator_port: int = 0,
    samples: bool = True,
    out: Out = print,
) -> dict[str, Any]:
    """Run the pipeline against the emulator and serve the result; return what `status` reports."""
    check_env(env)
    paths = Paths.of(settings.repo_root)
    with locked(paths.root, paths.lock):
        ports = Ports(api=api_port, runtime=runtime_port, emulator=emulator_port)
        return _up(settings, paths, env=env, ports=ports, samples=samples, out=out)


def _up(settings: Settings, paths: Paths, *, env: str, ports: Ports, samples: bool, out: Out) -> dict[str, Any]:
    from hubdeploy.artifacts import build as artifact_build
    from hubdeploy.artifacts import publish
    from hubdeploy.infra import bootstrap

    progress = Progress(9 if samples else 8, out=out)
    out(f"hubdeploy local up --env {env}: the pipeline against an emulated AWS on 127.0.0.1 (files in {paths.root})")
    with progress.step("emulator (moto_server on 127.0.0.1)"):
        endpoint_url, fresh = services.ensure_emulator(paths, settings, port=ports.emulator, out=out)
        # From here on every client and child talks only to the emulator, never to a real account.
        local = emulated_settings(settings, endpoint_url, settings.aws_region)
        if fresh:
            shutil.rmtree(paths.tf_work, ignore_errors=True)  # its .terraform points at a dead emulator's state
    with progress.step("bootstrap: state and artifact buckets"):
        boot = bootstrap.bootstrap(local)
        out(f"      state bucket {boot.state.name}, artifact bucket {boot.artifacts.name}")
    mirror = copy_checkout(settings.repo_root, paths.mirror)
    local = dataclasses.replace(local, repo_root=mirror)
    pin = read_pin(mirror, env)
    with progress.step(f"fetch: {pin.hub_model_id}@{pin.hub_revision}"):
        source = choose_model_source(pin, settings)
        local, standin = _use_model(local, paths, pin, source, out=out)
        fetched, _ = artifact_build.fetch(local, env=env)
        out(f"      {len(fetched.manifest.files)} files at revision {fetched.manifest.hub_revision}")
    with progress.step("build: model.tar.gz + lambda.zip (byte-reproducible)"):
        built = artifact_build.build(local, env=env, out_dir=paths.build / env)
        for artifact in (built.model, built.lambda_zip):
            out(f"      {artifact.path.name}: sha256 {artifact.sha256[:16]}...")
    with progress.step("publish: upload to the artifact bucket (idempotent)"):
        commit = publish.git_commit(settings.repo_root, settings)
        published = publish.publish(
            local, env=env, artifacts_dir=paths.build / env, bucket=boot.artifacts.name, commit=commit
        )
        for item in (published.model, published.lambda_zip):
            what = "uploaded" if item.bytes_uploaded else "already published, nothing uploaded"
            out(f"      {item.url} ({what})")
    deployed, changed = _plan_and_apply(local, paths, env, state_bucket=boot.state.name, progress=progress, out=out)
    with progress.step("serve: local SageMaker runtime + API Gateway (background daemon)"):
        endpoint_only = all(address.startswith(ENDPOINT_MODULE) for address in changed)
        daemon, served = _serve(local, paths, deployed, published, ports=ports, endpoint_only=endpoint_only, out=out)
    state = {
        "env": env,
        "api_url": daemon["api_url"],
        "runtime_url": daemon["runtime_url"],
        "token_url": daemon.get("token_url"),
        "aws_endpoint_url": endpoint_url,
        "region": local.aws_region,
        "deployed_api_url": deployed.api_url,
        "endpoint_name": deployed.endpoint_name,
        "auth": deployed.auth,
        "client_secret": deployed.client_secret,
        "model_source": source.kind,
        "standin_size": source.size if source.kind == "standin" else None,
        "hub_model_id": pin.hub_model_id,
        "hub_revision": fetched.manifest.hub_revision,
        "artifact_sha256": served["artifact_sha256"],
        "model_data_url": served["model_data_url"],
        "logs": str(paths.logs),
    }
    atomic_write_json(paths.stack, state)
    os.chmod(paths.stack, 0o600)  # holds the emulated pool's client secret
    headers = client_headers(settings, state)
    if samples:
        with progress.step("ask: sample sentences through POST /sentiment, then the post-deploy smoke test"):
            ask_samples(daemon["api_url"], headers, out=out, standin=standin)
            smoke_local(settings, state, deployed.outputs, expect_labels=source.kind == "hub", out=out)
    _print_summary(env, state, headers, progress=progress, standin=standin, out=out)
    return {**status_of(settings, paths), "auth_header": headers.get("Authorization")}


def _use_model(
    local: Settings, paths: Paths, pin: ModelPin, source: ModelSource, *, out: Out
) -> tuple[Settings, StandIn | None]:
    """Settings that fetch `source`: for a stand-in, the private HF cache it is installed in, offline."""
    if source.kind != "standin":
        out(f"      real model: {source.detail}")
        return local, None
    from hubdeploy.artifacts.standin import install_standin

    if source.size == "tiny":
        out("      training the small stand-in (once per pin; cached in .local/standin) ...")
    standin = install_standin(pin, cache_dir=paths.hf_cache, build_dir=paths.standin, size=source.size)
    print_standin_banner(out, standin)
    out(f"      stand-in ({source.size}; {source.detail})")
    out(f"      installed in the private cache {paths.hf_cache} as {pin.hub_model_id}@{standin.revision[:12]}")
    return local.with_offline_cache(paths.hf_cache), standin


def _plan_and_apply(
    local: Settings, paths: Paths, env: str, *, state_bucket: str, progress: Progress, out: Out
) -> tuple[Deployed, set[str]]:
    """Plan and apply the env root; what was deployed, and the addresses of the resources the plan changed."""
    from hubdeploy.infra import accountroot, envroot

    assert local.aws_endpoint_url is not None
    with progress.step(f"terraform plan: terraform/root with terraform/envs/{env} against the emulator"):
        # the account's one-time settings first (API Gateway's CloudWatch Logs role), as on real AWS
        applied = accountroot.ensure(
            local.repo_root,
            environ=local.environ,
            endpoint_url=local.aws_endpoint_url,
            workdir=paths.tf_work / "account",
            state_bucket=state_bucket,
            region=local.aws_region,
        )
        out(f"      terraform/account (one-time account settings): {'applied' if applied else 'no changes'}")
        root = envroot.prepare(
            local.repo_root,
            env,
            environ=local.environ,
            endpoint_url=local.aws_endpoint_url,
            workdir=paths.tf_work / env,
        )
        envroot.init(root, state_bucket=state_bucket, region=local.aws_region)
        plan = envroot.plan(root)
        plan_doc = envroot.show_json(root, plan.path)
        out("      --- the plan summary the PR comment would show ---")
        for line in plan_summary_text(plan_doc).splitlines():
            out(f"      {line}")
    with progress.step("terraform apply"):
        if plan.has_changes:
            envroot.apply(root, plan.path)
        else:
            out("      nothing to apply")
        deployed = Deployed.of(envroot.output_json(root))
        out(
            f"      endpoint {deployed.endpoint_name}, API {deployed.api_url} "
            f"(auth: {deployed.auth.get('mode', 'none')})"
        )
    return deployed, set(envroot.resource_changes(plan_doc))


def _serve(
    local: Settings,
    paths: Paths,
    deployed: Deployed,
    published: Any,
    *,
    ports: Ports,
    endpoint_only: bool,
    out: Out,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep or (re)start the daemon for what was deployed; wait until it serves the artifact just published.

    When the apply changed nothing but the SageMaker endpoint's resources (a pin change: new model and config, the
    endpoint updated in place) the running servers stay: the runtime loads the new model beside the old one and
    switches once it is loaded, so clients see no gap, as with SageMaker's in-place update.
    """
    assert local.aws_endpoint_url is not None
    wanted = services.daemon_config(
        paths,
        aws_endpoint_url=local.aws_endpoint_url,
        region=local.aws_region,
        outputs=deployed.outputs,
        lambda_object=(published.artifacts.artifact_bucket, published.artifacts.lambda_s3_key),
        ports=(ports.runtime, ports.api),
    )
    daemon = services.running_daemon(paths, wanted) if endpoint_only else None
    if daemon:
        out("      the servers of the previous `up` keep serving; the runtime switches to the new model once loaded")
    else:
        daemon = services.restart_daemon(paths, wanted, local, out=out)
    out(f"      runtime {daemon['runtime_url']}, API {daemon['api_url']}; loading the deployed model ...")
    status, served = http_json("POST", daemon["runtime_url"] + "/local/refresh", timeout=600)
    if status != 200:
        message = served.get("Message") if isinstance(served, dict) else served
        raise LocalStackError(
            f"runtime: endpoint {deployed.endpoint_name} cannot serve: {message}",
            hint=f"see {paths.logs / 'daemon.log'}; fix, then hubdeploy local up (or: hubdeploy local down)",
        )
    if served["artifact_sha256"] != published.model.sha256:
        raise LocalStackError(
            f"runtime: serves artifact {served['artifact_sha256'][:12]}, not the one just published "
            f"({published.model.sha256[:12]})",
            hint="re-run hubdeploy local up",
        )
    out(f"      serving {served['model_data_url']} (sha256 {served['artifact_sha256'][:16]}...)")
    return daemon, served


def _print_summary(
    env: str, state: dict[str, Any], headers: dict[str, str], *, progress: Progress, standin: StandIn | None, out: Out
) -> None:
    out("")
    out(f"Local stack for {env} is up in {progress.elapsed():.0f}s.")
    out(f"  API:        POST {state['api_url']}/sentiment   (auth: {state['auth'].get('mode', 'none')})")
    out(f"  runtime:    {state['runtime_url']}  (boto3: AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={state['runtime_url']})")
    out(f"  emulator:   {state['aws_endpoint_url']}  (AWS_ENDPOINT_URL for boto3 / the AWS CLI, fake credentials)")
    if state.get("token_url"):
        out(f"  token URL:  {state['token_url']}  (Cognito client-credentials grant for the emulated pool)")
    out("Try it:")
    out("  " + curl_command(state["api_url"], headers))
    out("  (a fresh token any time: hubdeploy local status --json)")
    out("Stop everything: hubdeploy local down")
    if standin:
        out(f"Reminder: the model is a stand-in for {state['hub_model_id']}: {standin.short_note}.")


def plan_summary_text(plan_doc: dict[str, Any]) -> str:
    """What the PR comment shows for this plan: the summary line, the model table, the warnings."""
    from hubdeploy.gitops.comment import cost_md, model_table_md, warnings_md
    from hubdeploy.gitops.plansummary import summarize

    summary = summarize(plan_doc)
    parts = [f"Plan: {summary.line()}", model_table_md(summary)]
    cost = cost_md(summary)
    if cost:
        parts.append(cost)
    if summary.warnings:
        parts.append(warnings_md(summary))
    return "\n".join(parts)


def ask_samples(api_url: str, headers: dict[str, str], *, out: Out, standin: StandIn | None) -> None:
    """Send the sample sentences (one by one, then as one batch) and print the answers."""
    for text, expected in SAMPLES:
        status, answer = http_json("POST", f"{api_url}/sentiment", body={"text": text}, headers=headers)
        if status != 200:
            raise LocalStackError(
                f"api: POST /sentiment answered {status}: {answer}", hint="see .local/logs/daemon.log"
            )
        label = _first_label(answer)
        agrees = label.split(" ")[0].upper() == expected.upper()
        verdict = "" if agrees else f"   (a person would say {expected.upper()})"
        out(f"      {label:>15}  {text}{verdict}")
    texts = [text for text, _ in SAMPLES]
    status, answer = http_json("POST", f"{api_url}/sentiment", body={"texts": texts}, headers=headers)
    if status != 200:
        raise LocalStackError(
            f"api: batch POST /sentiment answered {status}: {answer}", hint="see .local/logs/daemon.log"
        )
    out(f"      batch of {len(SAMPLES)}: {json.dumps(answer)[:300]}")
    if standin:
        out(f"      (stand-in: {standin.short_note})")


def smoke_local(
    settings: Settings, state: dict[str, Any], outputs: dict[str, Any], *, expect_labels: bool, out: Out
) -> None:
    """Run the smoke test the deploy workflow runs after an apply (`hubdeploy smoke`) against the local
    API: the same token flow (against the local token endpoint), golden sentences, endpoint checks."""
    from hubdeploy.gitops import auth, smoke
    from hubdeploy.infra import aws

    api = local_access(state)
    target = smoke.target_from_outputs(
        state["env"],
        {**outputs, "api_url": state["api_url"], "auth": dict(api.auth), "auth_client_secret": api.client_secret},
    )
    local = client_settings(settings, state)
    golden, labels = smoke.load_golden()
    report = smoke.run_smoke(
        target,
        authorizer=auth.authorizer_for(target.access, local),
        golden=golden,
        labels=labels,
        expect_labels=expect_labels,  # the golden labels are FinBERT's: a stand-in is not held to them
        sagemaker=aws.client("sagemaker", local),
        latency_budget_ms=10_000,  # shared 2-core laptops, not the production budget
    )
    for line in report.lines():
        out(f"      smoke: {line}")
    if not report.ok:
        raise LocalStackError(
            "smoke test failed against the local stack (see the FAIL lines above)",
            hint="fix what failed and re-run hubdeploy local up; hubdeploy local down stops everything",
        )


def _first_label(answer: Any) -> str:
    try:
        item = answer["data"][0]
        return f"{item['label']} {item['score']:.2f}"
    except (KeyError, IndexError, TypeError):
        return json.dumps(answer)[:80]
