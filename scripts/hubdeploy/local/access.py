"""How a client reaches the local API: the deployed auth mode through the same dispatch `hubdeploy smoke`
uses (`gitops.auth`), with the emulated pool's token endpoint served by the local API."""

from __future__ import annotations

from typing import Any

from hubdeploy.gitops.auth import ApiAccess, authorizer_for
from hubdeploy.infra.emulator.process import emulated_settings
from hubdeploy.settings import Settings


def client_settings(settings: Settings, state: dict[str, Any]) -> Settings:
    """`settings` pointed at the emulator the stack in `state` runs on."""
    return emulated_settings(settings, state["aws_endpoint_url"], state["region"])


def local_access(state: dict[str, Any]) -> ApiAccess:
    """The deployed auth mode, with the emulated pool's token endpoint served by the local API."""
    access = dict(state.get("auth") or {})
    if state.get("token_url"):
        access["token_url"] = state["token_url"]  # the pool domain's token endpoint, served locally
    return ApiAccess(env=state["env"], auth=access, client_secret=state.get("client_secret"))


def client_headers(settings: Settings, state: dict[str, Any]) -> dict[str, str]:
    """Headers a client sends to the local API for the deployed auth mode (a fresh token each call)."""
    url = f"{state['api_url']}/sentiment"
    return authorizer_for(local_access(state), client_settings(settings, state)).headers("POST", url, b"")


def curl_command(api_url: str, headers: dict[str, str]) -> str:
    parts = [f"curl -sS -X POST '{api_url}/sentiment'", "-H 'Content-Type: application/json'"]
    parts += [f"-H '{k}: {v}'" for k, v in headers.items()]
    parts.append("""-d '{"text": "Operating profit rose to EUR 41 mn."}'""")
    return " \\\n     ".join(parts)
