"""`hubdeploy gate --env ENV --plan-dir DIR`: decide, before anyone is asked to approve, whether ENV deploys.

Runs in the deploy workflow's gate job (no environment, read-only role) right after `hubdeploy plan`:
- no changes: step output deploy=false, so the env's deploy job is skipped before it waits for the
  environment's reviewers (nobody approves nothing);
- changes: deploy=true, review=reviewed|converging|differs and plan-hash, against the review record of
  the pushed commit (`hubdeploy.gitops.review`, as deploy-check reads it). When it differs, the deploy-time
  plan goes to the merged PR (comment marker workflow=deploy) and the job summary: approving the env's
  deployment applies exactly that plan (deploy-check --approved-hash <plan-hash> checks it is the same).

A reviewed commit whose evaluation did not pass fails here, before anyone is asked to approve.
A push that came from no PR: review=differs with a note; the deploy job still runs, so the change is not
silently left undeployed, and deploy-check refuses it unless a reviewer approves the environment's
deployment (environments without required reviewers: it fails, loudly, asking for a PR).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hubdeploy.envs import ENVIRONMENTS
from hubdeploy.errors import TerraformError
from hubdeploy.gitops import actions, planfolder, review
from hubdeploy.gitops.comment import marker, render_comment, render_job_summary
from hubdeploy.gitops.github import GitHubClient
from hubdeploy.log import warn
from hubdeploy.settings import Settings

WORKFLOW = "deploy"  # marker of the deploy-time plan comment


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gate",
        help="skip an env with no changes; post a deploy-time plan that differs from the reviewed one",
        description="Set step outputs deploy, review and plan-hash for the env's deploy job.",
    )
    parser.add_argument("--env", required=True, choices=ENVIRONMENTS, help="environment")
    parser.add_argument("--plan-dir", type=Path, required=True, metavar="DIR", help="folder written by hubdeploy plan")
    parser.add_argument("--commit", default=None, help="commit being deployed (default: GITHUB_SHA)")
    parser.add_argument("--workflow", default=planfolder.DEFAULT_WORKFLOW, help="workflow that posted the PR comment")
    parser.set_defaults(handler=run)


def headline(env: str, verdict: review.Assessment) -> str:
    """Why the deploy-time plan is posted, and what approving does."""
    found = verdict.review
    if found is None:
        why = f"**No reviewed plan**: {verdict.lookup.problem}."
    else:
        what = "; ".join(verdict.differences[:8]) or "see the plan below"
        more = f" (and {len(verdict.differences) - 8} more)" if len(verdict.differences) > 8 else ""
        why = (
            f"**This deploy-time plan differs from the plan reviewed on {found.source}** "
            f"(reviewed `{found.plan_hash[:19]}…`, now `{verdict.plan_hash[:19]}…`): {what}{more}."
        )
    return (
        f"⚠️ {why}\n"
        f"Approving the `{env}` environment's deployment applies exactly this plan (`{verdict.plan_hash}`); "
        "rejecting it applies nothing. Something changed since the review: another merge, drift, or new inputs."
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    folder = planfolder.read_plan_folder(args.plan_dir, env=args.env)
    if not folder.summary.has_changes:
        actions.set_outputs(settings, deploy=False, review="none", plan_hash=folder.plan_hash)
        message = f"{args.env}: no changes; skipping before the environment's approval"
        actions.append_summary(settings, message + "\n")
        print(message)
        return 0
    commit = args.commit or settings.git_commit
    if not commit:
        raise TerraformError("no commit to look up", hint="pass --commit SHA (in Actions GITHUB_SHA is set)")
    client = GitHubClient.from_settings(settings)
    verdict = planfolder.assess_against_review(settings, folder, client, commit=commit, workflow=args.workflow)
    lookup = verdict.lookup
    review.require_evaluation_passed(client, verdict.review, args.env)  # before anyone is asked to approve
    outputs: dict[str, str | bool | int] = {"deploy": True, "review": verdict.verdict, "plan_hash": folder.plan_hash}
    if lookup.pr is not None:
        outputs["pr"] = lookup.pr
    if verdict.verdict != review.DIFFERS:
        message = verdict.explain(args.env)
        actions.append_summary(settings, message + "\n")
        actions.set_outputs(settings, **outputs)
        print(message)
        return 0
    data = folder.comment_input(
        workflow=WORKFLOW,
        status="awaiting approval",
        run_url=settings.github_run_url,
        commit=commit,
        headline=headline(args.env, verdict),
    )
    actions.append_summary(settings, render_job_summary(data))
    if lookup.pr is not None:
        action, posted = client.upsert_comment(lookup.pr, marker(args.env, WORKFLOW), render_comment(data))
        where = f"{action} comment {posted.get('html_url') or posted.get('id')} on PR #{lookup.pr}"
    else:
        where = "no PR to post it to (a push that came from no pull request): see the job summary"
        warn(f"{args.env}: {lookup.problem}; the deploy needs the {args.env} environment's approval")
    actions.set_outputs(settings, **outputs)
    print(f"{verdict.explain(args.env)}\n{args.env}: deploy-time plan {folder.plan_hash}: {where}")
    return 0
