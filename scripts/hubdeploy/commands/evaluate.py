"""`hubdeploy evaluate --env ENV [--base-ref REF] [--out DIR] [--sentences PATH] [--batch-size N] [--show-flips N]`:
the evaluation diff of a model change.

The env's pin and serving code at the base ref (what is deployed: on a pull_request event the PR's base commit,
else `main`) against the working tree's, both run through their own model/code/inference.py on CPU over the
labelled sentences of evaluation/sentences.jsonl, the head also in int8 (the env's `precision` decides whether
that is gated). Writes DIR/evaluation.json (default plan/ENV, the plan folder `hubdeploy comment` renders it from)
and prints the comment's "Evaluation" section. Exit 0 when the gates of model-gates.toml pass or nothing needs
evaluating (no pin, model/ or precision change: no torch is loaded then); exit 1 naming each failed gate and its
numbers, after writing evaluation.json. In GitHub Actions the document is also the
step output `evaluation` (one line of JSON), for the plan job's comment.

`hubdeploy evaluate --needed [--env ENV]` only says whether any env (or ENV) has a model change to evaluate: the
step output `needed=true|false`, git only, so a CI job installs torch only when it will be used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import UsageError
from hubdeploy.gitops import actions
from hubdeploy.settings import Settings

DEFAULT_BASE_REF = "main"
PLAN_ROOT = "plan"  # the PR workflow's plan folders: plan/<env>


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="compare the env's deployed model with the PR's on the evaluation set; check model-gates.toml",
        description="Run the base and head models through their own serving code on evaluation/sentences.jsonl, "
        "write evaluation.json and print the comment's Evaluation section; fail on a gate of model-gates.toml.",
    )
    parser.add_argument("--env", choices=ENVIRONMENTS, help="environment (required but with --needed)")
    parser.add_argument(
        "--needed", action="store_true", help="only say whether a model change needs evaluating (output needed)"
    )
    parser.add_argument(
        "--base-ref",
        default=None,
        metavar="REF",
        help=f"what the env has deployed (default: a pull_request event's base commit, else {DEFAULT_BASE_REF})",
    )
    parser.add_argument("--out", type=Path, default=None, metavar="DIR", help="where evaluation.json goes (plan/ENV)")
    parser.add_argument(
        "--sentences", type=Path, default=None, metavar="PATH", help="labelled sentences (evaluation/sentences.jsonl)"
    )
    parser.add_argument("--batch-size", type=int, default=16, metavar="N", help="sentences per request (16)")
    parser.add_argument("--show-flips", type=int, default=10, metavar="N", help="flipped sentences shown (10)")
    parser.set_defaults(handler=run)


def default_base_ref(settings: Settings) -> str:
    """The PR's base commit when the triggering event is a pull_request, else main."""
    payload = actions.event_payload(settings)
    pull = payload.get("pull_request")
    if settings.github_event_name in (None, "pull_request", "pull_request_target") and isinstance(pull, dict):
        sha = (pull.get("base") or {}).get("sha")
        if isinstance(sha, str) and sha:
            return sha
    return DEFAULT_BASE_REF


def check_counts(batch_size: int, show_flips: int) -> None:
    if batch_size < 1:
        raise UsageError(f"--batch-size {batch_size} must be at least 1", hint="pass e.g. --batch-size 16")
    if show_flips < 0:
        raise UsageError(f"--show-flips {show_flips} must be 0 or more", hint="pass e.g. --show-flips 10")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from hubdeploy.evaluation import pipeline, report
    from hubdeploy.gitops.planfolder import current_commit

    check_counts(args.batch_size, args.show_flips)
    base_ref = args.base_ref or default_base_ref(settings)
    if args.needed:
        envs = [args.env] if args.env else list(ENVIRONMENTS)
        reasons = pipeline.skip_reasons(settings, envs=envs, base_ref=base_ref, head_commit=current_commit(settings))
        for env, reason in reasons.items():
            print(f"{env}: {'to evaluate' if reason is None else f'skipped ({reason})'}")
        actions.set_outputs(settings, needed=any(reason is None for reason in reasons.values()))
        return 0
    if args.env is None:
        raise UsageError("--env is required", hint="pass --env ENV (or --needed to ask about every env)")
    doc = pipeline.evaluate_env(
        settings,
        env=args.env,
        base_ref=base_ref,
        out=args.out or settings.repo_root / PLAN_ROOT / args.env,
        head_commit=current_commit(settings),
        sentences_path=args.sentences,
        batch_size=args.batch_size,
        show_flips=args.show_flips,
    )
    print(report.section_md(doc))
    actions.set_outputs(settings, evaluation=json.dumps(doc, separators=(",", ":")))  # JSON escapes newlines
    failure = pipeline.gate_failure(doc)
    if failure is not None:
        raise failure
    return 0
