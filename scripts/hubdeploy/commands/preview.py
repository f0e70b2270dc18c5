"""`hubdeploy preview --env ENV`: preview your PR comment locally.

Runs the PR workflow's steps for one env against the AWS emulator, in a scratch copy of the checkout
(your pins, terraform/, model/, lambda/): bootstrap -> build -> publish -> plan, then prints the sticky
comment the PR would get (and its job summary with --full). Nothing touches AWS, GitHub or your
checkout (but for the stand-in cache the local stack shares, .local/standin). Without network access it
builds the stand-in model (hubdeploy.artifacts.standin) installed as the pinned revision in a private HF
cache; --use-hub builds the real pinned model instead. Against the running local stack's emulator
(--endpoint-url) it builds what that stack deployed (the real model, or the stand-in of the same size), so
an unchanged checkout previews "No changes".

It also evaluates the model change as the PR's plan job does (`hubdeploy evaluate`; --no-evaluate skips it): base
is the env's pin and model/ at --base-ref (default main: what a PR from this checkout is compared with, and what
`make demo` deployed from an unchanged checkout), head is your working tree, so "change the dev pin, then preview"
shows the evaluation of that change. With the stand-in, each side's pin gets its own stand-in (`standin-v2` is a
second, differently trained one). A failed gate prints the comment, then fails as the PR check would.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hubdeploy.artifacts.standin import Size
from hubdeploy.checkout import copy_checkout
from hubdeploy.commands.evaluate import DEFAULT_BASE_REF
from hubdeploy.envs import ENVIRONMENTS, ModelPin, current_model_id, read_pin, write_pin
from hubdeploy.errors import LocalStackError, PinError
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.comment import render_comment, render_job_summary
from hubdeploy.gitops.promotion import DEFAULT_REVISION
from hubdeploy.infra import accountroot, aws, envroot, naming
from hubdeploy.infra.emulator.process import emulated_settings
from hubdeploy.local.layout import Paths
from hubdeploy.local.modelsource import preview_model_source
from hubdeploy.log import warn
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="preview your PR comment locally (PR pipeline against the emulator)",
        description="bootstrap, build, publish and plan ENV against the AWS emulator in a scratch copy, "
        "then print the comment the PR would get.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR", help="keep the scratch copy here")
    parser.add_argument("--endpoint-url", default=None, metavar="URL", help="use this running emulator")
    parser.add_argument("--use-hub", action="store_true", help="build the pinned model from the Hub (needs network)")
    parser.add_argument("--full", action="store_true", help="also print the job summary (full plan)")
    parser.add_argument(
        "--no-evaluate", dest="evaluate", action="store_false", help="skip the evaluation of the model change"
    )
    parser.add_argument(
        "--base-ref",
        default=DEFAULT_BASE_REF,
        metavar="REF",
        help=f"what the evaluation compares your working tree with (default: {DEFAULT_BASE_REF})",
    )
    parser.set_defaults(handler=run)


@contextmanager
def _emulator(endpoint_url: str | None, workdir: Path, settings: Settings) -> Iterator[str]:
    if endpoint_url:
        yield endpoint_url
        return
    from hubdeploy.infra.emulator.process import Emulator

    with Emulator(log_path=workdir / "emulator.log", environ=settings.environ) as emu:
        yield emu.endpoint_url


def use_standin(repo: Path, env: str, workdir: Path, *, build_dir: Path, size: Size = "tiny") -> Path:
    """Install the stand-in for the env's pin (the one the local stack would deploy: same pin, same bytes,
    trained once into `build_dir`) in a private HF cache; pin the scratch copy to it when the env is not pinned
    yet. Returns the cache."""
    from hubdeploy.artifacts.standin import install_standin

    try:
        pin = read_pin(repo, env, validate=False)
        pinned = True
    except PinError:  # not pinned yet: preview what pinning it would do
        pin, pinned = ModelPin(hub_model_id=current_model_id(repo, env), hub_revision=DEFAULT_REVISION), False
    cache = workdir / "hf-cache"
    standin = install_standin(pin, cache_dir=cache, build_dir=build_dir, size=size)
    if not pinned:
        write_pin(repo, env, ModelPin(hub_model_id=pin.hub_model_id, hub_revision=standin.revision))
    served = f"{pin.hub_model_id}@{standin.revision[:12]}"
    warn(f"preview: {standin.announcement} Serves {served} from the scratch copy only.")
    return cache


def _in_cache(cache: Path, pin: ModelPin) -> bool:
    """True when the private HF cache already holds `pin` (as a ref or a commit): it is never installed twice."""
    folder = cache / ("models--" + pin.hub_model_id.replace("/", "--"))
    return (folder / "refs" / pin.hub_revision).is_file() or (folder / "snapshots" / pin.hub_revision).is_dir()


def _evaluate(
    args: argparse.Namespace,
    settings: Settings,
    scratch: Settings,
    repo: Path,
    out: Path,
    *,
    cache: Path | None,
    build_dir: Path,
    size: Size,
) -> dict[str, Any]:
    """The PR's evaluation of the scratch copy (head) against the checkout's --base-ref, into `out`."""
    from hubdeploy.artifacts.standin import install_standin
    from hubdeploy.evaluation import pipeline

    def standin_for(pin: ModelPin) -> None:
        if cache is not None and not _in_cache(cache, pin):
            install_standin(pin, cache_dir=cache, build_dir=build_dir, size=size)

    return pipeline.evaluate_env(
        scratch,
        env=args.env,
        base_ref=args.base_ref,
        out=out,
        head_commit=planfolder.current_commit(settings),
        head_root=repo,
        git_root=settings.repo_root,
        prepare=standin_for if cache is not None else None,
    )


def _step(argv: list[str], settings: Settings) -> None:
    from hubdeploy.cli import main

    log.info("preview: hubdeploy %s", " ".join(argv))
    # the steps' reports go to stderr: stdout is only the comment (`hubdeploy preview ... > comment.md`)
    with contextlib.redirect_stdout(sys.stderr):
        code = main(argv, settings=settings)
    if code != 0:
        raise LocalStackError(f"preview: `hubdeploy {' '.join(argv)}` failed", hint="see the error above")


def run(args: argparse.Namespace, settings: Settings) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hubdeploy-preview-"))
    repo = copy_checkout(settings.repo_root, workdir / "repo")
    scratch = dataclasses.replace(settings.with_environ(GITHUB_ACTIONS="false"), repo_root=repo)
    scratch = dataclasses.replace(scratch, in_github_actions=False, github_output=None, github_step_summary=None)
    model = preview_model_source(settings, endpoint_url=args.endpoint_url, use_hub=args.use_hub)
    log.info(
        "preview: %s (%s)", "the real pinned model" if model.kind == "hub" else f"a {model.size} stand-in", model.detail
    )
    cache = None
    build_dir = Paths.of(settings.repo_root).standin  # the local stack's stand-ins: trained once for both
    if model.kind == "standin":
        cache = use_standin(repo, args.env, workdir, build_dir=build_dir, size=model.size)
        scratch = scratch.with_offline_cache(cache)
    out = workdir / "plan" / args.env
    evaluation = None
    if args.evaluate:  # first: the plan folder written below reads evaluation.json
        evaluation = _evaluate(args, settings, scratch, repo, out, cache=cache, build_dir=build_dir, size=model.size)
    with _emulator(args.endpoint_url, workdir, settings) as url:
        local = emulated_settings(scratch, url, settings.aws_region)
        for argv in (["bootstrap", "--env", args.env], ["build", "--env", args.env], ["publish", "--env", args.env]):
            _step(argv, local)
        # the account's one-time settings (terraform/account), which the env root expects to exist
        accountroot.ensure(
            repo,
            environ=local.environ,
            endpoint_url=url,
            workdir=workdir / "tf-account",
            state_bucket=naming.state_bucket_name(local, aws.account_id(local)),
            region=local.aws_region,
        )
        root = envroot.open_root(local, args.env, workdir=workdir / "tf")
        folder, _doc = planfolder.write_plan_folder(root, out, commit=planfolder.current_commit(settings))
    data = folder.comment_input(workflow=planfolder.DEFAULT_WORKFLOW, run_url=None)
    print(render_comment(data))
    if args.full:
        print("\n---- job summary ----\n")
        print(render_job_summary(data))
    log.info("preview: plan folder %s (scratch copy %s)", folder.path, repo)
    if evaluation is not None:
        from hubdeploy.evaluation.pipeline import gate_failure

        failure = gate_failure(evaluation)
        if failure is not None:
            raise failure  # after the comment, which shows the failed gate as the PR would
    return 0
