"""The GitHub client against a fake API on 127.0.0.1: sticky comments, commit statuses, pull requests, run
approvals, pagination, the PR of a commit, drift issues, how 403 / 422 / rate limits / 5xx are handled, and
that only the workflow's own comments and statuses count."""

from __future__ import annotations

import pytest

from hubdeploy.errors import GitHubError, UsageError
from hubdeploy.gitops.comment import marker
from hubdeploy.gitops.github import GitHubClient

from .fakegithub import BOT, MALLORY_TOKEN

pytestmark = pytest.mark.unit

DEV = marker("dev", "pr")
STAGING = marker("staging", "pr")


def test_first_plan_creates_a_comment_then_updates_it_in_place(client, fake_github):
    action1, first = client.upsert_comment(7, DEV, f"{DEV}\nplan 1")
    action2, second = client.upsert_comment(7, DEV, f"{DEV}\nplan 2")

    assert (action1, action2) == ("created", "updated")
    assert first["id"] == second["id"]
    assert [c["body"] for c in fake_github.comments[7]] == [f"{DEV}\nplan 2"]
    assert [(r.method, r.path.split("?")[0]) for r in fake_github.writes()] == [
        ("POST", "/repos/o/r/issues/7/comments"),
        ("PATCH", f"/repos/o/r/issues/comments/{first['id']}"),
    ]


def test_env_comments_do_not_overwrite_each_other(client, fake_github):
    client.upsert_comment(7, DEV, f"{DEV}\ndev plan")
    client.upsert_comment(7, STAGING, f"{STAGING}\nstaging plan")
    client.upsert_comment(7, DEV, f"{DEV}\ndev plan v2")

    bodies = sorted(c["body"] for c in fake_github.comments[7])
    assert bodies == [f"{DEV}\ndev plan v2", f"{STAGING}\nstaging plan"]


def test_marker_of_another_workflow_or_a_quoting_human_is_not_matched(client, fake_github):
    fake_github.add_comment(7, marker("dev", "drift") + "\nother workflow")
    fake_github.add_comment(7, "a human mentions hubdeploy:plan env=dev but not the marker")

    action, _ = client.upsert_comment(7, DEV, f"{DEV}\nmine")

    assert action == "created"
    assert len(fake_github.comments[7]) == 3


def test_a_marker_quoted_inside_another_comment_is_not_matched(client, fake_github):
    fake_github.add_comment(7, f"{DEV}\nplan text that happens to print:\n{STAGING}")

    action, _ = client.upsert_comment(7, STAGING, f"{STAGING}\nstaging plan")

    assert action == "created"
    assert fake_github.comments[7][0]["body"].startswith(DEV)


def test_finds_the_sticky_comment_on_a_later_page(client, fake_github):
    for i in range(5):
        fake_github.add_comment(7, f"chatter {i}")
    mine = fake_github.add_comment(7, f"{DEV}\nold", user=BOT)  # 6th comment: page 3 with 2 per page

    action, updated = client.upsert_comment(7, DEV, f"{DEV}\nnew")

    assert action == "updated" and updated["id"] == mine["id"]
    gets = [r.path for r in fake_github.requests if r.method == "GET"]
    assert len(gets) == 3 and gets[-1].endswith("page=3")


def test_requests_carry_token_and_api_version(client, fake_github):
    client.upsert_comment(1, DEV, DEV)
    headers = {k.lower(): v for k, v in fake_github.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer test-token"
    assert headers["x-github-api-version"] == "2022-11-28"


def test_pr_for_commit_prefers_the_merged_pr(client, fake_github):
    fake_github.commit_pulls["abc123"] = [{"number": 3, "merged_at": None}, {"number": 9, "merged_at": "2026-01-01"}]
    assert client.pr_for_commit("abc123") == 9
    assert client.pr_for_commit("def456") is None


def test_drift_issue_is_opened_once_then_updated_then_closed(client, fake_github):
    mark = "<!-- hubdeploy:drift env=dev -->"
    action1, issue = client.upsert_issue(marker=mark, title="Drift in dev", body=f"{mark}\n1 change", label="drift")
    action2, same = client.upsert_issue(marker=mark, title="Drift in dev", body=f"{mark}\n2 changes", label="drift")
    other, _ = client.upsert_issue(
        marker="<!-- hubdeploy:drift env=prod -->",
        title="Drift in prod",
        body="<!-- hubdeploy:drift env=prod -->",
        label="drift",
    )

    assert (action1, action2, other) == ("created", "updated", "created")
    assert same["number"] == issue["number"]
    assert issue["labels"] == ["drift"]
    client.close_issue(issue["number"], comment="no drift any more")
    assert client.find_issue(mark, label="drift") is None


def test_403_without_permission_says_which_permission(client, fake_github):
    fake_github.fail_next(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError) as err:
        client.upsert_comment(7, DEV, DEV)
    assert "403" in err.value.message and "pull-requests: write" in err.value.hint


def test_secondary_rate_limit_403_with_retry_after_is_retried(client, fake_github, sleeps):
    fake_github.fail_next(403, headers={"Retry-After": "3"}, message="You have exceeded a secondary rate limit")
    action, _ = client.upsert_comment(7, DEV, DEV)
    assert action == "created"
    assert sleeps == [3.0]


def test_429_then_success(client, fake_github, sleeps):
    fake_github.fail_next(429, headers={"Retry-After": "2"})
    fake_github.fail_next(429, headers={"Retry-After": "5"})
    assert client.upsert_comment(7, DEV, DEV)[0] == "created"
    assert sleeps == [2.0, 5.0]


def test_rate_limit_longer_than_max_wait_fails_fast_with_a_hint(fake_github, sleeps):
    client = GitHubClient(token="t", repository="o/r", api_url=fake_github.url, max_wait=10, sleep=sleeps.append)
    fake_github.fail_next(
        403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"},
        message="API rate limit exceeded",
    )
    with pytest.raises(GitHubError) as err:
        client.find_comment(7, DEV)
    assert "rate limit" in err.value.message and sleeps == []
    assert "re-run" in err.value.hint


def test_5xx_is_retried_a_bounded_number_of_times(fake_github, sleeps):
    client = GitHubClient(token="t", repository="o/r", api_url=fake_github.url, max_retries=2, sleep=sleeps.append)
    for _ in range(5):
        fake_github.fail_next(502, message="Bad gateway")
    with pytest.raises(GitHubError) as err:
        client.find_comment(7, DEV)
    assert "502" in err.value.message
    assert len(sleeps) == 2 and len(fake_github.requests) == 3


def test_422_reports_githubs_validation_errors(client, fake_github):
    fake_github.fail_next(422, message="Validation Failed")
    fake_github.failures[-1][2]["errors"] = [{"message": "body is too long (maximum is 65536 characters)"}]
    with pytest.raises(GitHubError) as err:
        client.upsert_comment(7, DEV, DEV)
    assert "too long" in err.value.message and "size limit" in err.value.hint


def test_unreachable_api_is_a_clear_error(sleeps):
    client = GitHubClient(token="t", repository="o/r", api_url="http://127.0.0.1:9", max_retries=1, sleep=sleeps.append)
    with pytest.raises(GitHubError, match="cannot reach GitHub"):
        client.find_comment(1, DEV)


def test_missing_token_or_repository_is_a_usage_error():
    with pytest.raises(UsageError, match="token"):
        GitHubClient(token="", repository="o/r")
    with pytest.raises(UsageError, match="owner/name"):
        GitHubClient(token="t", repository="nope")


def test_a_body_without_its_marker_is_refused(client):
    with pytest.raises(UsageError):
        client.upsert_comment(7, DEV, "no marker here")


# -- the review record: only the workflow's own identity counts ------------------------------------------


def test_a_marker_comment_planted_by_another_user_is_ignored_and_never_edited(client, fake_github):
    # given mallory planted a comment carrying dev's marker (anybody may comment on a PR)
    planted = fake_github.add_comment(7, f"{DEV}\n<!-- hubdeploy:meta plan-hash=sha256:{'0' * 64} -->", user="mallory")

    # when the workflow looks for its comment and posts the plan
    assert client.find_comment(7, DEV) is None
    action, mine = client.upsert_comment(7, DEV, f"{DEV}\nthe real plan")

    # then it writes its own comment and leaves mallory's alone
    assert action == "created" and mine["user"]["login"] == BOT
    assert planted["body"].startswith(DEV) and "the real plan" not in planted["body"]
    assert client.find_comment(7, DEV)["id"] == mine["id"]


def test_another_bot_login_is_configurable(fake_github):
    app = GitHubClient(token="t", repository="o/r", api_url=fake_github.url, bot_login="hubdeploy-app[bot]")
    fake_github.add_comment(7, f"{DEV}\nby actions", user=BOT)
    ours = fake_github.add_comment(7, f"{DEV}\nby the app", user="hubdeploy-app[bot]")
    assert app.find_comment(7, DEV)["id"] == ours["id"]


def test_statuses_are_created_and_the_latest_bot_status_is_read_back_across_pages(client, fake_github):
    context = "hubdeploy/plan (dev)"
    client.create_status("a" * 40, context=context, state="success", description="plan 1", target_url="http://run")
    for i in range(3):  # other contexts and a newer forged one: pages of 2
        fake_github.add_status("a" * 40, context=f"ci/{i}", state="success")
    fake_github.add_status("a" * 40, context=context, state="success", description="forged", creator="mallory")

    status = client.bot_status("a" * 40, context)

    assert status["description"] == "plan 1" and status["creator"]["login"] == BOT
    assert status["target_url"] == "http://run"
    assert len(list(client.statuses("a" * 40))) == 5  # newest first, every page
    assert client.bot_status("b" * 40, context) is None
    (post,) = fake_github.writes()
    assert (post.method, post.path) == ("POST", f"/repos/o/r/statuses/{'a' * 40}")


def test_a_status_set_by_another_token_is_not_the_bots(fake_github):
    mallory = GitHubClient(token=MALLORY_TOKEN, repository="o/r", api_url=fake_github.url)
    mallory.create_status("c" * 40, context="hubdeploy/plan (dev)", state="success", description="plan forged")
    assert fake_github.latest_status("c" * 40, "hubdeploy/plan (dev)")["creator"]["login"] == "mallory"
    assert mallory.bot_status("c" * 40, "hubdeploy/plan (dev)") is None


def test_a_long_status_description_is_cut_to_githubs_140_characters(client, fake_github):
    client.create_status("a" * 40, context="x", state="failure", description="y" * 300)
    assert len(fake_github.latest_status("a" * 40, "x")["description"]) == 140
    with pytest.raises(UsageError, match="unknown commit status state"):
        client.create_status("a" * 40, context="x", state="green", description="")


def test_creating_a_status_without_permission_says_which_permission(client, fake_github):
    fake_github.fail_next(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError) as err:
        client.create_status("a" * 40, context="x", state="success", description="d")
    assert "statuses: write" in err.value.hint


def test_pull_head_and_the_pull_a_commit_came_from(client, fake_github):
    fake_github.add_pull(5, head_sha="a" * 40, merge_commit="b" * 40)
    assert client.pull(5)["head"]["sha"] == "a" * 40
    assert client.pull_for_commit("b" * 40)["head"]["sha"] == "a" * 40
    assert client.pr_for_commit("b" * 40) == 5
    with pytest.raises(GitHubError, match="404"):
        client.pull(6)


def test_run_approvals(client, fake_github):
    fake_github.approve(99, "prod", user="alice")
    (approval,) = client.run_approvals("99")
    assert approval["state"] == "approved" and approval["environments"][0]["name"] == "prod"
    assert client.run_approvals(100) == []
    fake_github.fail_next(403, message="Resource not accessible by integration")
    with pytest.raises(GitHubError) as err:
        client.run_approvals(99)
    assert "actions: read" in err.value.hint
