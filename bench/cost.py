"""Dollars per million sentences on the default prod instance type, from a measured throughput per vCPU.

An estimate, not a measurement on AWS: sentences/s per vCPU measured here (one torch thread per vCPU, the
multi-model server's default layout of one worker per vCPU) x the instance's vCPUs = sentences/s per instance;
the instance-hour price / (that x 3600 s) x 1e6. Each fact comes from its one source: the instance type and
region from terraform/envs/prod/terraform.tfvars, its vCPUs from terraform/root/request-limits.json, the price
from the committed price table (hubdeploy.infra.prices), whose provenance line says whether it was verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.request_limits import load_table
from hubdeploy.errors import UsageError
from hubdeploy.infra.envvalues import configured_region, configured_string
from hubdeploy.infra.prices import region_prices

REPO_ROOT = Path(__file__).resolve().parents[1]
PROD_ENV_DIR = REPO_ROOT / "terraform" / "envs" / "prod"
SECONDS_PER_HOUR = 3600
ASSUMPTIONS = (
    "throughput scales linearly with vCPUs (on m5 a vCPU is a hyperthread: two share a core, so this is "
    "optimistic there) and with no difference between this machine's core and the instance's; the instance is "
    "busy every second it is paid for (no idle time, no autoscaling headroom); requests as benchmarked (full "
    "requests of the bench's size, its sentence length distribution); on-demand price, no savings plan"
)


@dataclass(frozen=True)
class Instance:
    """The instance a cost is estimated for, with where each fact came from."""

    instance_type: str
    region: str
    vcpus: int
    usd_per_hour: float
    price_provenance: str


def prod_instance(env_dir: Path = PROD_ENV_DIR, *, prices_path: Path | None = None) -> Instance:
    """The default prod instance type (its terraform.tfvars), its vCPUs and its hourly price.

    Raises:
        UsageError: the type, its region, its vCPUs or its price is missing from where it should be.
    """
    values = env_dir / "terraform.tfvars"
    instance_type = configured_string(env_dir, "instance_type")
    region = configured_region(env_dir)
    if instance_type is None or region is None:
        raise UsageError(
            f"{values} sets no instance_type or aws_region", hint='set instance_type = "ml.m5.xlarge" and aws_region'
        )
    spec = load_table()["instances"].get(instance_type)
    if spec is None:
        raise UsageError(
            f"{instance_type} is not in terraform/root/request-limits.json, so its vCPUs are unknown",
            hint="add it to the table's instances with its vCPUs",
        )
    prices = region_prices(region, path=prices_path)
    hourly = prices.hosting_per_hour.get(instance_type) if prices else None
    if prices is None or hourly is None:
        raise UsageError(
            f"the price table has no price for {instance_type} in {region}", hint="run `hubdeploy prices refresh`"
        )
    return Instance(instance_type, region, int(spec["vcpus"]), hourly, prices.provenance())


def per_million(sentences_per_second_per_vcpu: float, instance: Instance) -> float:
    """USD per million sentences for an instance kept busy at the given per-vCPU throughput."""
    per_instance = sentences_per_second_per_vcpu * instance.vcpus
    return instance.usd_per_hour / (per_instance * SECONDS_PER_HOUR) * 1e6
