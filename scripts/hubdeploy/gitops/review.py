"""The review record: which pull request a run belongs to, and the plan hash its env comment recorded.

At merge, deploy-check compares the plan about to be applied with the hash recorded in the env's sticky
comment of the PR the commit came from; `comment --status` finds the same comment to update its status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hubdeploy.errors import TerraformError
from hubdeploy.gitops import actions
from hubdeploy.gitops.comment import marker, recorded
from hubdeploy.gitops.github import GitHubClient

if TYPE_CHECKING:
    from hubdeploy.settings import Settings


def event_pr_number(settings: Settings) -> int | None:
    """The PR number of the triggering pull_request event (GITHUB_EVENT_PATH), if any."""
    number = (actions.event_payload(settings).get("pull_request") or {}).get("number")
    return int(number) if isinstance(number, int) else None


def find_pr(settings: Settings, client: GitHubClient | None, *, pr: int | None, commit: str | None) -> int | None:
    """`pr` when given, else the pull_request of the triggering event, else the PR `commit` (GITHUB_SHA) came from."""
    if pr is not None:
        return int(pr)
    number = event_pr_number(settings)
    if number is not None or client is None:
        return number
    commit = commit or settings.git_commit
    return client.pr_for_commit(commit) if commit else None


def reviewed_hash_from_pr(settings: Settings, *, env: str, commit: str, workflow: str) -> tuple[str, int]:
    """(hash recorded in the env's sticky comment, PR number) for the PR `commit` came from."""
    client = GitHubClient.from_settings(settings)
    number = client.pr_for_commit(commit)
    if number is None:
        raise TerraformError(
            f"{env}: commit {commit[:12]} did not come from a pull request, so no plan was reviewed",
            hint="deploy through a PR (its plan comment is the review record), or pass --reviewed-hash",
        )
    comment = client.find_comment(number, marker(env, workflow))
    found = recorded(comment.get("body") or "") if comment else None
    if not found:
        raise TerraformError(
            f"{env}: PR #{number} has no hubdeploy plan comment for {env}",
            hint="re-run the PR workflow so the plan is posted and reviewed, then merge again",
        )
    return found[0], number
