"""The workflows: zero actionlint/zizmor findings, thin YAML (every run step is one hubdeploy, terraform
or make call), every hubdeploy call parses with the real CLI parser, actions pinned by SHA, least
permissions, OIDC only, and the deploy order / concurrency / environment rules."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hubdeploy.cli import COMMANDS, build_parser

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
VENV_BIN = Path(sys.executable).parent
SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40})$")
ALLOWED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "hashicorp/setup-terraform",
    "aws-actions/configure-aws-credentials",
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/cache",
}
# Sample values for the shell variables the run steps use (all set from `env:` in the workflows).
SAMPLES = {
    "HUBDEPLOY_ENV": "dev",
    "CONFIRM": "dev",
    "ALLOW_PROD": "false",
    "REVIEWED_HASH": "sha256:" + "0" * 64,
    "APPROVED_HASH": "sha256:" + "1" * 64,
    "NEEDS_JSON": '{"test": {"result": "success", "outputs": {}}}',
    "EVALUATION_JSON": '{"env": "dev", "verdict": "skipped"}',
}
PLAN_ROLE = "${{ steps.target.outputs.plan-role }}"
APPLY_ROLE = "${{ steps.target.outputs.apply-role }}"


def load(path: Path) -> dict:
    # PyYAML reads the key `on` as True
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))
    return data


def steps(data: dict):
    for job_name, job in (data.get("jobs") or {}).items():
        for step in job.get("steps") or []:
            yield job_name, job, step


def run_steps():
    for path in WORKFLOWS:
        for job_name, _job, step in steps(load(path)):
            if "run" in step:
                yield pytest.param(step["run"], id=f"{path.stem}:{job_name}:{step['run'][:60]}")


def command_words(line: str) -> list[str]:
    """The words of a run step, without the `exec` that hands the step's process to the command."""
    words = shlex.split(line.strip())
    return words[1:] if words[:1] == ["exec"] else words


def hubdeploy_calls():
    for param in run_steps():
        words = command_words(param.values[0])
        if Path(words[0]).name == "hubdeploy":
            yield pytest.param(words[1:], id=param.id)


@pytest.mark.unit
def test_there_are_workflows():
    assert {p.name for p in WORKFLOWS} >= {"pr.yml", "deploy.yml", "deploy-env.yml", "destroy.yml", "drift.yml"}


@pytest.mark.lint
def test_actionlint_has_no_findings():
    proc = subprocess.run([str(VENV_BIN / "actionlint")], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.lint
def test_zizmor_has_no_findings():
    proc = subprocess.run(
        [str(VENV_BIN / "zizmor"), "--offline", ".github/workflows"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout


@pytest.mark.unit
@pytest.mark.parametrize("command", list(run_steps()))
def test_every_run_step_is_one_hubdeploy_terraform_or_make_call(command):
    line = command.strip()
    assert "\n" not in line, "one command per run step"
    assert not re.search(r"[;&|`<>]|\$\(", line), f"no shell plumbing in {line!r}"
    assert "${{" not in line, "expressions go through env:, never into the script (template injection)"
    program = Path(command_words(line)[0]).name
    assert program in {"hubdeploy", "terraform", "make"}, line
    # GitHub's cancel signals the step's shell, which does not pass them on: `exec` makes hubdeploy the step's
    # process, so a cancelled run's terraform is stopped gracefully and releases the state lock
    # (https://github.com/orgs/community/discussions/26311; hubdeploy.infra.tfcli forwards them to terraform)
    if program == "hubdeploy":
        assert line.startswith("exec "), f"run hubdeploy with exec: {line!r}"


@pytest.mark.unit
@pytest.mark.parametrize("argv", list(hubdeploy_calls()))
def test_every_hubdeploy_call_parses_with_the_real_cli(argv):
    # a workflow calling a command that does not exist is a broken workflow, never a skip
    assert argv[0].replace("-", "_") in COMMANDS, f"`hubdeploy {argv[0]}` is not a command (cli.COMMANDS)"
    expanded = [re.sub(r"\$(\w+)", lambda m: SAMPLES[m.group(1)], word) for word in argv]
    try:
        args = build_parser().parse_args(expanded)
    except SystemExit as exc:
        pytest.fail(f"hubdeploy {' '.join(argv)} does not parse (exit {exc.code})")
    assert args.handler is not None


@pytest.mark.unit
def test_actions_are_pinned_by_full_sha_with_a_version_comment():
    for path in WORKFLOWS:
        text = path.read_text()
        for line in text.splitlines():
            found = re.search(r"^\s*(?:- )?uses:\s*(\S+)(.*)$", line)
            if not found:
                continue
            ref, rest = found.groups()
            if ref.startswith("$/"):  # this repository's own reusable workflow
                continue
            pinned = SHA_PIN.match(ref)
            assert pinned, f"{path.name}: {ref} is not pinned by a full commit SHA"
            assert pinned.group("action") in ALLOWED_ACTIONS, f"{path.name}: unexpected action {ref}"
            assert re.search(r"# v\d+\.\d+\.\d+", rest), f"{path.name}: {ref} lacks a # vX.Y.Z comment"


@pytest.mark.unit
def test_one_sha_per_action_across_workflows():
    seen: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for ref in re.findall(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})", path.read_text()):
            seen.setdefault(ref[0], set()).add(ref[1])
    assert all(len(shas) == 1 for shas in seen.values()), seen


@pytest.mark.unit
def test_least_permissions_and_oidc_only():
    for path in WORKFLOWS:
        data = load(path)
        assert data.get("permissions") == {}, f"{path.name}: top-level permissions must be {{}}"
        text = path.read_text()
        assert "aws-access-key-id" not in text and "secrets.AWS" not in text, f"{path.name}: OIDC only"
        for job_name, job in data["jobs"].items():
            perms = job.get("permissions")
            assert isinstance(perms, dict), f"{path.name}:{job_name} must declare its permissions"
            assumes_role = any(
                str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
                for step in job.get("steps") or []
            )
            if "uses" in job:  # a call to a reusable workflow: it may need what its job uses
                continue
            assert (perms.get("id-token") == "write") == assumes_role, f"{path.name}:{job_name}: id-token only for AWS"
            assert set(perms.values()) <= {"read", "write", "none"}
            assert not any(k in perms for k in ("contents",) if perms[k] == "write"), "never contents: write"
            for step in job.get("steps") or []:
                if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                    role = step["with"]["role-to-assume"]
                    assert role in {PLAN_ROLE, APPLY_ROLE}, f"{path.name}:{job_name}: the env's role (hubdeploy target)"
                if str(step.get("uses", "")).startswith("actions/checkout"):
                    assert step["with"]["persist-credentials"] is False


@pytest.mark.unit
def test_plan_jobs_use_the_plan_role_and_apply_jobs_the_apply_role():
    def roles(path: Path, job: str) -> set[str]:
        return {
            step["with"]["role-to-assume"]
            for _name, _job, step in [s for s in steps(load(path)) if s[0] == job]
            if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials")
        }

    wf = REPO / ".github" / "workflows"
    assert roles(wf / "pr.yml", "plan") == {PLAN_ROLE}
    assert roles(wf / "drift.yml", "drift") == {PLAN_ROLE}
    assert roles(wf / "destroy.yml", "plan") == {PLAN_ROLE}
    assert roles(wf / "destroy.yml", "destroy") == {APPLY_ROLE}
    assert roles(wf / "deploy-env.yml", "gate") == {PLAN_ROLE}
    assert roles(wf / "deploy-env.yml", "deploy") == {APPLY_ROLE}


@pytest.mark.unit
def test_every_aws_job_resolves_its_env_target_first_and_installs_only_the_cli():
    # per-env accounts: the role and region come from `hubdeploy target` (per-env variables first), never from
    # one shared variable; and a job that only runs the CLI installs only the CLI (make cli: no torch)
    for path in WORKFLOWS:
        for job_name, job in load(path)["jobs"].items():
            job_steps = job.get("steps") or []
            aws = [i for i, s in enumerate(job_steps) if "configure-aws-credentials" in str(s.get("uses", ""))]
            if not aws:
                continue
            target = next(i for i, s in enumerate(job_steps) if "hubdeploy target" in s.get("run", ""))
            assert job_steps[target]["id"] == "target" and target < aws[0], f"{path.name}:{job_name}"
            assert job_steps[aws[0]]["with"]["aws-region"] == "${{ steps.target.outputs.region }}"
            env = {**(load(path).get("env") or {}), **(job.get("env") or {})}
            assert env["HUBDEPLOY_VARS"] == "${{ toJSON(vars) }}", f"{path.name}:{job_name}"
            runs = [s.get("run", "").split("#")[0].strip() for s in job_steps]
            assert "make cli" in runs and "make venv" not in runs, f"{path.name}:{job_name}: make cli"


@pytest.mark.unit
def test_speculative_plans_take_no_lock_and_the_deploy_plan_waits_for_it():
    def plans(workflow: str, job: str) -> list[str]:
        found = [s.get("run", "") for n, _j, s in steps(load(REPO / ".github" / "workflows" / workflow)) if n == job]
        return [r for r in found if "hubdeploy plan " in r]

    for workflow, job in (("pr.yml", "plan"), ("deploy-env.yml", "gate"), ("destroy.yml", "plan")):
        assert plans(workflow, job) and all("--no-lock" in r for r in plans(workflow, job)), f"{workflow}:{job}"
    for workflow, job in (("deploy-env.yml", "deploy"), ("destroy.yml", "destroy")):
        assert plans(workflow, job) and not any("--no-lock" in r for r in plans(workflow, job)), f"{workflow}:{job}"


@pytest.mark.unit
def test_one_required_check_reports_for_branches_forks_and_the_merge_queue():
    data = load(REPO / ".github" / "workflows" / "pr.yml")
    assert set(data["on"]) == {"pull_request", "merge_group"}
    result = data["jobs"]["result"]
    assert result["name"] == "hubdeploy result" and result["if"] == "always()"
    assert set(result["needs"]) == set(data["jobs"]) - {"result"}
    assert "id-token" not in result["permissions"], "a fork's run has no OIDC token: the check must not need one"
    plan = data["jobs"]["plan"]
    assert "merge_group" in plan["if"] and "head.repo.full_name == github.repository" in plan["if"]
    assert plan["permissions"]["statuses"] == "write", "the plan hash is recorded as a commit status"


@pytest.mark.unit
def test_deploy_goes_dev_then_staging_then_prod_each_behind_its_environment():
    deploy = load(REPO / ".github" / "workflows" / "deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}}
    # merges deploy one after the other, none replacing a pending one (GitHub's default without `queue`)
    assert deploy["concurrency"] == {"group": "deploy", "cancel-in-progress": False, "queue": "max"}
    jobs = deploy["jobs"]
    assert [jobs[e]["with"]["env"] for e in ("dev", "staging", "prod")] == ["dev", "staging", "prod"]
    assert "needs" not in jobs["dev"] and jobs["staging"]["needs"] == "dev" and jobs["prod"]["needs"] == "staging"
    env_jobs = load(REPO / ".github" / "workflows" / "deploy-env.yml")["jobs"]
    gate, job = env_jobs["gate"], env_jobs["deploy"]
    # the gate plans without an environment, so an env with no changes never waits for its reviewers
    assert "environment" not in gate and job["needs"] == "gate"
    assert job["if"] == "needs.gate.outputs.deploy == 'true'"
    assert job["environment"] == "${{ inputs.env }}"
    assert job["concurrency"] == {"group": "hubdeploy-${{ inputs.env }}", "cancel-in-progress": False, "queue": "max"}
    runs = [s.get("run", "") for s in job["steps"]]
    order = ["deploy-check", "record-endpoint", "hubdeploy apply", "hubdeploy smoke", "hubdeploy rollback"]
    positions = [next(i for i, r in enumerate(runs) if word in r) for word in order]
    assert positions == sorted(positions), "check the plan, record, apply, smoke, then roll back on failure"
    smoke, rollback = job["steps"][positions[-2]], job["steps"][positions[-1]]
    assert smoke["if"] == "always() && steps.record.outcome == 'success'", "smoke after a failed apply too"
    assert rollback["if"] == "always() && steps.smoke.outcome == 'failure'"
    assert "--approved-hash" in runs[positions[0]]


@pytest.mark.unit
def test_destroy_is_guarded_before_any_aws_access_and_runs_behind_the_environment():
    data = load(REPO / ".github" / "workflows" / "destroy.yml")
    inputs = data["on"]["workflow_dispatch"]["inputs"]
    assert inputs["env"]["options"] == ["dev", "staging", "prod"] and inputs["allow-prod"]["default"] is False
    for job_name in ("plan", "destroy"):
        job_steps = data["jobs"][job_name]["steps"]
        guard = next(i for i, s in enumerate(job_steps) if "destroy-guard" in s.get("run", ""))
        aws = next(i for i, s in enumerate(job_steps) if "configure-aws-credentials" in str(s.get("uses", "")))
        assert guard < aws, f"{job_name}: the guard runs before any AWS credential exists"
    destroy = data["jobs"]["destroy"]
    assert destroy["environment"] == "${{ inputs.env }}" and destroy["needs"] == "plan"
    assert any("--reviewed-hash" in s.get("run", "") for s in destroy["steps"])


@pytest.mark.unit
def test_the_evaluation_is_its_own_job_torch_only_when_needed_and_reaches_each_envs_comment():
    jobs = load(REPO / ".github" / "workflows" / "pr.yml")["jobs"]
    evaluate, plan, result = jobs["evaluate"], jobs["plan"], jobs["result"]
    assert evaluate["permissions"] == {"contents": "read"}, "no AWS and no write token: fork PRs are evaluated too"
    runs = [s.get("run", "") for s in evaluate["steps"]]
    checkout = next(s for s in evaluate["steps"] if "actions/checkout" in str(s.get("uses", "")))
    assert checkout["with"]["fetch-depth"] == 2, "HEAD^1 (the base) must be fetched"
    serve = next(s for s in evaluate["steps"] if s.get("run") == "make serve")
    assert serve["if"] == "steps.needed.outputs.needed == 'true'", "torch is installed only for a model change"
    assert runs.index("make cli") < runs.index("exec .venv/bin/hubdeploy evaluate --needed --base-ref HEAD^1")
    for env in ("dev", "staging", "prod"):
        step = next(s for s in evaluate["steps"] if s.get("id") == env)
        assert f"--env {env} --base-ref HEAD^1" in step["run"] and runs.index("make serve") < runs.index(step["run"])
        assert evaluate["outputs"][env] == f"${{{{ steps.{env}.outputs.evaluation }}}}"
        if env != "dev":
            assert step["if"] == "${{ !cancelled() }}", "every env is reported even after one fails its gates"
    # the plan jobs wait for it, still plan when it failed (the comment shows why), and pass each env its result
    assert plan["needs"] == ["evaluate"] and plan["if"].startswith("!cancelled() &&")
    assert plan["env"]["EVALUATION_JSON"] == "${{ needs.evaluate.outputs[matrix.env] }}"
    assert any('--evaluation-json "$EVALUATION_JSON"' in s.get("run", "") for s in plan["steps"])
    assert "evaluate" in result["needs"]
    for path in WORKFLOWS:
        for job_name, _job, step in steps(load(path)):
            if step.get("run") == "make serve":
                assert (path.name, job_name) == ("pr.yml", "evaluate"), "only the evaluate job installs torch"


@pytest.mark.unit
def test_pr_comment_per_env_and_caches():
    data = load(REPO / ".github" / "workflows" / "pr.yml")
    plan = data["jobs"]["plan"]
    assert plan["strategy"]["matrix"]["env"] == ["dev", "staging", "prod"]
    assert plan["strategy"]["fail-fast"] is False
    cached = {str(s["with"]["path"]) for s in plan["steps"] if "actions/cache" in str(s.get("uses", ""))}
    assert cached == {".cache/terraform/plugin-cache", "~/.cache/huggingface/hub"}
    assert any(s.get("with", {}).get("cache") == "pip" for s in plan["steps"])
    upload = next(s for s in plan["steps"] if "upload-artifact" in str(s.get("uses", "")))
    assert "tfplan" not in upload["with"]["path"], "the binary plan holds secrets: never an artifact"


@pytest.mark.unit
@pytest.mark.parametrize(("workflow", "job"), [("deploy-env.yml", "deploy"), ("drift.yml", "drift")])
def test_deploy_and_drift_cache_pip_hf_and_terraform_plugins(workflow, job):
    job_steps = load(REPO / ".github" / "workflows" / workflow)["jobs"][job]["steps"]
    cached = {str(s["with"]["path"]) for s in job_steps if "actions/cache" in str(s.get("uses", ""))}
    assert cached == {".cache/terraform/plugin-cache", "~/.cache/huggingface/hub"}
    assert any(s.get("with", {}).get("cache") == "pip" for s in job_steps)


DEFAULT_SESSION_SECONDS = 3600  # aws-actions/configure-aws-credentials without role-duration-seconds


def _hcl_default(path: Path, pattern: str) -> int:
    match = re.search(pattern, path.read_text(), re.S)
    assert match, f"{pattern} not found in {path}"
    return int(match.group(1))


@pytest.mark.unit
def test_aws_sessions_last_as_long_as_their_job_and_the_roles_allow_it():
    # given the roles' maximum session (terraform/github-oidc) and the longest blue/green update (module default)
    max_session = _hcl_default(
        REPO / "terraform" / "github-oidc" / "variables.tf", r'variable "max_session_duration".*?default\s*=\s*(\d+)'
    )
    bake = _hcl_default(
        REPO / "terraform" / "modules" / "sagemaker-endpoint" / "variables.tf",
        r"maximum_execution_timeout_in_seconds\s*=\s*optional\(number,\s*(\d+)\)",
    )
    sessions = []
    for path in WORKFLOWS:
        for job_name, job, step in steps(load(path)):
            if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                continue
            seconds = int(step["with"].get("role-duration-seconds", DEFAULT_SESSION_SECONDS))
            job_seconds = int(job["timeout-minutes"]) * 60
            sessions.append((f"{path.stem}:{job_name}", seconds, job_seconds))
            # then no job can outlive its credentials half way through an apply, and STS grants what is asked
            assert seconds >= job_seconds, f"{path.stem}:{job_name}: a {seconds}s session in a {job_seconds}s job"
            assert seconds <= max_session, f"{path.stem}:{job_name}: {seconds}s exceeds max_session_duration"
    deploy = next(job for name, _, job in sessions if name == "deploy-env:deploy")
    assert deploy >= bake + 20 * 60, "a deploy job has room for build, publish and smoke around a full blue/green bake"
    assert {name for name, _, _ in sessions} >= {"deploy-env:deploy", "destroy:destroy", "pr:plan", "drift:drift"}
