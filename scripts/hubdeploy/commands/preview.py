"""`hubdeploy preview --env ENV`: preview your PR comment locally.

Runs the PR workflow's steps for one env against the AWS emulator, in a scratch copy of the checkout
(your pins, terraform/, model/, lambda/): bootstrap -> build -> publish -> plan, then prints the sticky
comment the PR would get (and its job summary with --full). Nothing touches AWS, GitHub or your
checkout (but for the stand-in cache the local stack shares, .local/standin). Without network access it
builds the stand-in model (hubdeploy.artifacts.standin) installed as the pinned revision in a private HF
cache; --use-hub builds the real pinned model instead. Against the running local stack's emulator
(--endpoint-url) it builds what that stack deployed (the real model, or the stand-in of the same size), so
an unchanged checkout previews "No changes".

It first evaluates the model change as the PR's plan job does (--no-evaluate skips it; what it compares:
`hubdeploy.local.previewmodels`); a failed gate prints the comment, then fails as the PR check would.
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

from hubdeploy.checkout import copy_checkout
from hubdeploy.commands.evaluate import DEFAULT_BASE_REF
from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import LocalStackError
from hubdeploy.evaluation.pipeline import gate_failure
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.comment import render_comment, render_job_summary
from hubdeploy.infra import accountroot, aws, envroot, naming
from hubdeploy.infra.emulator.process import emulated_settings
from hubdeploy.local.layout import Paths
from hubdeploy.local.modelsource import preview_model_source
from hubdeploy.local.previewmodels import evaluate_preview, standin_installer, use_standin
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
        default=None,
        metavar="REF",
        help=f"what the evaluation compares your working tree with (default: {DEFAULT_BASE_REF}, else HEAD)",
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
    prepare = None  # what the evaluation does with each side's pin before building it
    if model.kind == "standin":
        build_dir = Paths.of(settings.repo_root).standin  # the local stack's stand-ins: trained once for both
        cache = use_standin(repo, args.env, workdir, build_dir=build_dir, size=model.size)
        scratch = scratch.with_offline_cache(cache)
        prepare = standin_installer(cache, build_dir=build_dir, size=model.size)
    out = workdir / "plan" / args.env
    evaluation = (  # first: the plan folder written below reads evaluation.json
        evaluate_preview(settings, scratch, env=args.env, base_ref=args.base_ref, out=out, prepare=prepare)
        if args.evaluate
        else None
    )
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
    if evaluation is not None and (failure := gate_failure(evaluation)) is not None:
        raise failure  # after the comment, which shows the failed gate as the PR would
    return 0
