"""The process environment hubdeploy gives terraform: the shared plugin cache (and the turns inits take on
it), the Go GC setting."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from hubdeploy.infra import tfcli

# -- inits that share the plugin cache take turns ----------------------------------------------------------

PROBING_TERRAFORM = """#!{python}
import fcntl, sys
# exit 0 when someone holds the plugin cache lock (hubdeploy does, for init), 4 when it is free
with open({lock!r}, "a") as fh:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit(0)
sys.exit(4)
"""


@pytest.mark.unit
@pytest.mark.parametrize(("command", "held"), [("init", True), ("plan", False), ("validate", False)])
def test_init_holds_the_plugin_cache_lock_and_other_commands_do_not(tmp_path: Path, command: str, held: bool):
    # terraform's plugin cache is not safe for concurrent inits (CI failed on "mkdir ...: file exists")
    env = tfcli.terraform_env(tmp_path, {"PATH": os.environ["PATH"]})
    lock = tfcli.plugin_cache_lock_path(env)
    assert lock == tmp_path / ".cache" / "terraform" / "plugin-cache.lock"
    binary = tmp_path / "terraform"
    binary.write_text(PROBING_TERRAFORM.format(python=sys.executable, lock=str(lock)))
    binary.chmod(0o755)
    proc = tfcli.run_terraform([command], cwd=tmp_path, env={**env, "TERRAFORM_BIN": str(binary)}, check=False)
    assert proc.returncode == (0 if held else 4)


@pytest.mark.unit
def test_checkouts_whose_plugin_cache_links_to_one_folder_share_one_lock(tmp_path: Path):
    # given two job workspaces whose .cache/terraform/plugin-cache a CI cache restored as links to one folder
    shared = tmp_path / "restored-cache"
    shared.mkdir()
    locks = []
    for job in ("plan-dev", "plan-staging"):
        (tmp_path / job / ".cache" / "terraform").mkdir(parents=True)
        (tmp_path / job / ".cache" / "terraform" / "plugin-cache").symlink_to(shared)
        locks.append(tfcli.plugin_cache_lock_path(tfcli.terraform_env(tmp_path / job, {})))
    # then their inits take turns on the one lock beside the real folder (else they race: "mkdir: file exists")
    assert locks == [tmp_path / "restored-cache.lock"] * 2


@pytest.mark.unit
def test_a_plugin_cache_the_caller_chose_is_kept_and_locked_beside_it(tmp_path: Path):
    env = tfcli.terraform_env(tmp_path, {tfcli.PLUGIN_CACHE_VAR: str(tmp_path / "mine")})
    assert env[tfcli.PLUGIN_CACHE_VAR] == str(tmp_path / "mine")
    assert tfcli.plugin_cache_lock_path(env) == tmp_path / "mine.lock"
    assert "plugin_cache_dir" not in Path(env["TF_CLI_CONFIG_FILE"]).read_text(), "one place says where the cache is"


@pytest.mark.unit
def test_terraform_gets_a_lazier_go_gc_unless_the_caller_chose_one(tmp_path: Path):
    assert tfcli.terraform_env(tmp_path, {})["GOGC"] == tfcli.GO_GC_PERCENT
    assert tfcli.terraform_env(tmp_path, {"GOGC": "100"})["GOGC"] == "100"
