"""The models `hubdeploy preview` builds and evaluates: without network, FinBERT-shaped stand-ins in a private HF
cache, one per pin (`hubdeploy.artifacts.standin`; the same bytes the local stack deploys for the same pin).

Preview evaluates the model change as the PR's plan job does (`hubdeploy evaluate`): base is the env's pin and
model/ at --base-ref (default `main`, what a PR from this checkout is compared with and what `make demo` deployed
from an unchanged checkout; HEAD in a clone without a `main`), head the scratch copy of your working tree, so
"change the dev pin, then preview" shows the evaluation of that change. Each side's pin gets its own stand-in
(`standin-v2` is a second one, trained differently). A checkout that is not a git clone has no base: no evaluation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hubdeploy.artifacts.hub import cache_repo_folder
from hubdeploy.artifacts.standin import Size
from hubdeploy.envs import ModelPin, current_model_id, read_pin, write_pin
from hubdeploy.errors import PinError
from hubdeploy.gitops.promotion import DEFAULT_REVISION
from hubdeploy.log import warn

if TYPE_CHECKING:
    from hubdeploy.settings import Settings


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


def in_cache(cache: Path, pin: ModelPin) -> bool:
    """True when the HF cache `cache` holds `pin`, as a ref or as a commit."""
    folder = cache_repo_folder(cache, pin.hub_model_id)
    return (folder / "refs" / pin.hub_revision).is_file() or (folder / "snapshots" / pin.hub_revision).is_dir()


def standin_installer(cache: Path, *, build_dir: Path, size: Size) -> Callable[[ModelPin], None]:
    """What the evaluation calls with each side's pin: its stand-in into `cache`, unless a pin is there already (the
    scratch copy's own, which `use_standin` may have pinned to the stand-in's folder revision: never re-seeded)."""

    def install(pin: ModelPin) -> None:
        from hubdeploy.artifacts.standin import install_standin

        if not in_cache(cache, pin):
            install_standin(pin, cache_dir=cache, build_dir=build_dir, size=size)

    return install


def evaluate_preview(
    settings: Settings,
    scratch: Settings,
    *,
    env: str,
    base_ref: str | None,
    out: Path,
    prepare: Callable[[ModelPin], None] | None,
) -> dict[str, Any] | None:
    """The evaluation of the scratch copy (`scratch.repo_root`, head) against `base_ref` of the user's checkout
    (`settings.repo_root`), with the models `scratch` fetches (a private cache of stand-ins, or the Hub); None
    (warned) when the checkout is not a git clone."""
    from hubdeploy.commands.evaluate import DEFAULT_BASE_REF
    from hubdeploy.evaluation import pipeline, sides
    from hubdeploy.gitops.planfolder import current_commit

    if not sides.is_git_clone(settings.repo_root):
        warn(f"preview: {settings.repo_root} is not a git clone: no evaluation (its base side comes from git)")
        return None
    if base_ref is None:
        base_ref = DEFAULT_BASE_REF if sides.has_commit(settings.repo_root, DEFAULT_BASE_REF) else "HEAD"
    return pipeline.evaluate_env(
        scratch,
        env=env,
        base_ref=base_ref,
        out=out,
        head_commit=current_commit(settings),
        head_root=scratch.repo_root,
        git_root=settings.repo_root,
        prepare=prepare,
    )
