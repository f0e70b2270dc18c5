"""`hubdeploy preview --env ENV`: preview your PR comment locally.

Runs the PR workflow's steps for one env against the AWS emulator, in a scratch copy of the checkout
(your pins, terraform/, model/, lambda/): bootstrap -> build -> publish -> plan, then prints the sticky
comment the PR would get (and its job summary with --full). Nothing touches AWS, GitHub or your
checkout. Without network access it builds an untrained stand-in model installed as the pinned
revision in a private HF cache; --use-hub builds the real pinned model instead.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hubdeploy.checkout import copy_checkout
from hubdeploy.envs import DEFAULT_HUB_MODEL_ID, ENVIRONMENTS, ModelPin, read_pin, write_pin
from hubdeploy.errors import LocalStackError, PinError
from hubdeploy.gitops import planfolder
from hubdeploy.gitops.comment import render_comment, render_job_summary
from hubdeploy.log import warn
from hubdeploy.settings import Settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
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
    parser.set_defaults(handler=run)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _emulator(endpoint_url: str | None, workdir: Path) -> Iterator[str]:
    if endpoint_url:
        yield endpoint_url
        return
    from hubdeploy.infra.emulator.process import Emulator

    with Emulator(log_path=workdir / "emulator.log") as emu:
        yield emu.endpoint_url


def install_standin(repo: Path, env: str, cache: Path) -> None:
    """Put an untrained stand-in in a private HF cache as the env's pinned model, and pin the scratch copy to it."""
    from hubdeploy.artifacts.standin import UNTRAINED_WARNING, build_standin_model, install_in_hf_cache

    try:
        model_id = read_pin(repo, env, validate=False).hub_model_id
    except PinError:  # not pinned yet: preview what pinning it would do
        model_id = DEFAULT_HUB_MODEL_ID
    model_dir = build_standin_model(cache.parent / "standin-model", size="tiny", seed=0)
    revision = install_in_hf_cache(model_dir, cache, model_id)
    write_pin(repo, env, ModelPin(hub_model_id=model_id, hub_revision=revision))
    warn(f"preview: {UNTRAINED_WARNING} Pinned {model_id}@{revision[:12]} in the scratch copy only.")


def _step(argv: list[str]) -> None:
    from hubdeploy.cli import main

    log.info("preview: hubdeploy %s", " ".join(argv))
    # the steps' reports go to stderr: stdout is only the comment (`hubdeploy preview ... > comment.md`)
    with contextlib.redirect_stdout(sys.stderr):
        code = main(argv)
    if code != 0:
        raise LocalStackError(f"preview: `hubdeploy {' '.join(argv)}` failed", hint="see the error above")


def run(args: argparse.Namespace, settings: Settings) -> int:
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hubdeploy-preview-"))
    repo = copy_checkout(settings.repo_root, workdir / "repo")
    env_vars = {"HUBDEPLOY_ROOT": str(repo), "GITHUB_ACTIONS": "false"}
    if not args.use_hub:
        cache = workdir / "hf-cache"
        install_standin(repo, args.env, cache)
        env_vars.update({"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"})
    with _emulator(args.endpoint_url, workdir) as url:
        from hubdeploy.infra.emulator.process import FAKE_CREDENTIALS

        env_vars.update({**FAKE_CREDENTIALS, "AWS_ENDPOINT_URL": url, "AWS_REGION": settings.aws_region})
        with _environ(env_vars):
            for argv in (
                ["bootstrap", "--env", args.env],
                ["build", "--env", args.env],
                ["publish", "--env", args.env],
            ):
                _step(argv)
            local = dataclasses.replace(Settings.from_env(), repo_root=repo)
            root = planfolder.open_root(local, args.env, workdir=workdir / "tf")
            folder, _doc = planfolder.write_plan_folder(
                root, workdir / "plan" / args.env, commit=planfolder.current_commit(settings)
            )
    data = folder.comment_input(workflow=planfolder.DEFAULT_WORKFLOW, run_url=None)
    print(render_comment(data))
    if args.full:
        print("\n---- job summary ----\n")
        print(render_job_summary(data))
    log.info("preview: plan folder %s (scratch copy %s)", folder.path, repo)
    return 0
