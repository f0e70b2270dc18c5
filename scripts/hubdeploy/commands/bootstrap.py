"""`hubdeploy bootstrap --env ENV [--state-bucket B] [--artifact-bucket B]`: buckets Terraform needs first."""

from __future__ import annotations

import argparse

from hubdeploy.envs import ENVIRONMENTS, check_env
from hubdeploy.errors import AwsError
from hubdeploy.infra import bootstrap as bootstrapping
from hubdeploy.infra import lambdaquota
from hubdeploy.infra.naming import state_key
from hubdeploy.log import warn
from hubdeploy.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "bootstrap",
        help="create the Terraform state bucket and the artifact bucket (idempotent, hardened)",
        description="Create (or check) the state and artifact buckets: versioning, encryption, public access "
        "blocked, TLS only, tagged as hubdeploy's. Refuses buckets hubdeploy did not create. Prints the "
        "`terraform init` command for the env (terraform/root with the env's backend flags), and warns when the "
        "env's lambda_reserved_concurrency cannot fit the account's Lambda concurrency limit.",
    )
    parser.add_argument("--env", required=True, help=f"environment: {', '.join(ENVIRONMENTS)}")
    parser.add_argument("--state-bucket", default=None, help="default: HUBDEPLOY_STATE_BUCKET or the naming rule")
    parser.add_argument("--artifact-bucket", default=None, help="default: HUBDEPLOY_ARTIFACT_BUCKET or the naming rule")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    env = check_env(args.env)
    result = bootstrapping.bootstrap(settings, state_bucket=args.state_bucket, artifact_bucket=args.artifact_bucket)
    for report in (result.state, result.artifacts):
        print(f"{report.purpose} bucket: {report.name} ({'created' if report.created else 'already set up'})")
    print(f"state key for {env}: {state_key(env)}")
    # one root for every env: -reconfigure switches the backend when the last init was for another env
    flags = [*result.backend_config(), f"-backend-config=key={state_key(env)}", "-reconfigure"]
    print("terraform -chdir=terraform/root init " + " ".join(flags))
    check_lambda_concurrency(settings, env)
    return 0


def check_lambda_concurrency(settings: Settings, env: str) -> None:
    """Print the account's Lambda concurrency; warn, with the numbers, when the env's reservation cannot fit."""
    try:
        report = lambdaquota.check(settings, env)
    except AwsError as exc:
        warn(f"could not check the env's Lambda reservation against the account: {exc.one_line()}")
        return
    print(report.summary())
    if not report.fits:
        warn(report.warning(), title=f"Lambda reserved concurrency ({env})")
