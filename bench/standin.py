"""The BERT-base stand-in model every benchmark runs on: one folder in .bench/cache, built once, reused.

Random weights (seed 0) with FinBERT-tone's config, labels and tokenizer: FinBERT's real shape, about
440 MB of fp32 weights.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE = REPO_ROOT / ".bench" / "cache"
STANDIN = CACHE / "finbert-base-standin"
SEED = 0
# Run in a child process: importing torch and building the model would otherwise stay in this process's
# peak RSS, which the build benchmark reports.
BUILD_CODE = (
    "import sys; from pathlib import Path; from hubdeploy.artifacts.standin import build_standin_model; "
    "build_standin_model(Path(sys.argv[1]), size='base', seed=int(sys.argv[2]))"
)


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def base_standin() -> Path:
    """The BERT-base stand-in's folder, built on first use.

    It is built in a child process into a partial folder next to it, which is renamed into place only
    once complete, so an interrupted build never leaves a folder that looks usable.

    Returns:
        `.bench/cache/finbert-base-standin`.
    """
    if _complete(STANDIN):
        return STANDIN
    print(f"   building the BERT-base stand-in in {STANDIN} (once, about 440 MB)", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f"{STANDIN.name}.partial-", dir=CACHE))
    partial.chmod(0o755)  # mkdtemp's 0700 is for secrets; this is a plain cache folder
    try:
        subprocess.run([sys.executable, "-c", BUILD_CODE, str(partial), str(SEED)], check=True)
        if not _complete(STANDIN):  # else another run finished first: keep its folder, drop ours
            shutil.rmtree(STANDIN, ignore_errors=True)
            partial.rename(STANDIN)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return STANDIN
