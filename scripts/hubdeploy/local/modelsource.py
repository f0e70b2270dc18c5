"""Which model the local stack deploys: the real pinned revision when the Hub answers or the user's HF cache
has it, else a stand-in (FinBERT's labels and tokenizer; a small BERT trained on the shipped sentences, or
random weights at BERT-base size), announced loudly.

HUBDEPLOY_LOCAL_MODEL (auto | hub | standin) and HUBDEPLOY_STANDIN_SIZE (tiny | base) force a choice.
`hubdeploy preview` against the running stack's emulator builds what the stack deployed (`preview_model_source`).
"""

from __future__ import annotations

import dataclasses
import textwrap
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from hubdeploy.artifacts.standin import SIZES, Size, StandIn
from hubdeploy.envs import ModelPin
from hubdeploy.errors import HubdeployError, LocalStackError
from hubdeploy.settings import LOCAL_MODEL_VAR, STANDIN_SIZE_VAR, Settings

HUB_PROBE_TIMEOUT = 3.0
MODEL_SOURCES = ("auto", "hub", "standin")
BANNER = "!" * 100


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "hub" | "standin"
    size: Size = "tiny"  # of a stand-in
    detail: str = ""


def hub_reachable(endpoint: str) -> bool:
    """True when the Hub (or HF_ENDPOINT) answers at all within a few seconds."""
    req = urllib.request.Request(endpoint.rstrip("/") + "/api/models?limit=1", method="HEAD")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=HUB_PROBE_TIMEOUT):  # noqa: S310 - fixed https URL
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def cached_in_user_cache(pin: ModelPin, settings: Settings) -> bool:
    """True when the user's HF cache holds every serving file of the pinned revision (checked offline)."""
    from hubdeploy.artifacts import hub

    try:
        hub.fetch(pin, settings=dataclasses.replace(settings, hf_offline=True))
    except HubdeployError:
        return False
    return True


def choose_model_source(pin: ModelPin, settings: Settings) -> ModelSource:
    """The real pinned model when the Hub answers or the user's HF cache has it, else a stand-in."""
    forced_size, choice = settings.standin_size, settings.local_model
    if forced_size is not None and forced_size not in SIZES:
        raise LocalStackError(
            f"{STANDIN_SIZE_VAR}={forced_size!r} is not tiny or base", hint=f"unset {STANDIN_SIZE_VAR} or fix it"
        )
    if choice not in MODEL_SOURCES:
        raise LocalStackError(
            f"{LOCAL_MODEL_VAR}={choice!r} is not auto, hub or standin", hint=f"unset {LOCAL_MODEL_VAR}"
        )
    if forced_size is not None or choice == "standin":
        size: Size = "base" if forced_size == "base" else "tiny"
        return ModelSource("standin", size, f"{STANDIN_SIZE_VAR}/{LOCAL_MODEL_VAR} asked for it")
    if cached_in_user_cache(pin, settings):
        return ModelSource("hub", detail=f"{pin.hub_model_id}@{pin.hub_revision} from your HF cache")
    if not settings.hf_offline and hub_reachable(settings.hf_endpoint):
        return ModelSource("hub", detail=f"{pin.hub_model_id}@{pin.hub_revision} from {settings.hf_endpoint}")
    if choice == "hub":
        raise LocalStackError(
            f"{pin.hub_model_id}@{pin.hub_revision} is neither reachable on the Hub nor in your HF cache",
            hint=f"connect to the Hub once, or unset {LOCAL_MODEL_VAR} to use a stand-in",
        )
    return ModelSource("standin", "tiny", "the Hub is unreachable and the pinned model is not in your HF cache")


def _checked_size(settings: Settings) -> Size:
    forced = settings.standin_size
    if forced is not None and forced not in SIZES:
        raise LocalStackError(
            f"{STANDIN_SIZE_VAR}={forced!r} is not tiny or base", hint=f"unset {STANDIN_SIZE_VAR} or fix it"
        )
    return "base" if forced == "base" else "tiny"


def preview_model_source(settings: Settings, *, endpoint_url: str | None, use_hub: bool) -> ModelSource:
    """What `hubdeploy preview` builds: --use-hub's real model; against the running local stack's emulator, what
    that stack deployed (the same bytes, so an unchanged checkout previews "No changes" instead of a model
    change); else a stand-in of HUBDEPLOY_STANDIN_SIZE (tiny by default), needing no network."""
    from hubdeploy.local.layout import Paths
    from hubdeploy.local.processes import read_json

    if use_hub:
        return ModelSource("hub", detail="--use-hub")
    stack = read_json(Paths.of(settings.repo_root).stack) if endpoint_url else None
    if stack and endpoint_url and str(stack.get("aws_endpoint_url", "")).rstrip("/") == endpoint_url.rstrip("/"):
        if stack.get("model_source") == "hub":
            return ModelSource("hub", detail="the local stack at this endpoint serves the real model")
        size: Size = "base" if stack.get("standin_size") == "base" else "tiny"
        return ModelSource("standin", size, "the local stack at this endpoint serves this stand-in")
    return ModelSource("standin", _checked_size(settings), "no network needed")


def print_standin_banner(out: Callable[[str], None], standin: StandIn) -> None:
    out(BANNER)
    for line in textwrap.wrap(standin.announcement, width=94):
        out(f"!!  {line}")
    out(f"!!  Size: {standin.size}. The real model is used when the Hub is reachable or already in your HF cache.")
    out(BANNER)
