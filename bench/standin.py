"""The BERT-base stand-ins the benchmarks run on: folders in .bench/cache, built once, reused.

Both have FinBERT-tone's config, labels and tokenizer: FinBERT's real shape, about 440 MB of fp32 weights.
`base_standin` has random weights (seed 0): enough for timing the build. `trained_base_standin` has its top
layers and head trained briefly on the stand-in's labelled sentences (hubdeploy.artifacts.training, seeded, one
thread): the inference benchmark needs a model whose scores are not all near a tie and whose [CLS] depends on the
sentence, or int8 rounding would flip labels that a trained model keeps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hubdeploy.artifacts.standin import Size
from hubdeploy.artifacts.training import Recipe

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
# The top 2 of the 12 layers and the head, on the seeded random lower layers' outputs (computed once): 160 s on one
# thread here. Measured 2026-12-04 on this machine: every training sentence right, median fp32 margin 0.99 between
# the top two scores. Tried and dropped: the head alone (91% right, but [CLS] of a random body barely depends on the
# sentence, so int8 rounding flipped 12% of the labels), the top 2 at lr 5e-4 and the top 4 at 1e-4 (collapsed to
# one label), 3 full epochs (chance). Not FinBERT: its lower layers are still random.
BASE_RECIPE = Recipe(seed=SEED, epochs=40, batch_size=16, learning_rate=1e-4, head_learning_rate=1e-3, top_layers=2)
TRAIN_CODE = (
    "import json, sys; from pathlib import Path; from hubdeploy.artifacts.standin import trained_model; "
    "from hubdeploy.artifacts.training import Recipe; "
    "folder, record = trained_model(Path(sys.argv[1]), Recipe(**json.loads(sys.argv[2])), size=sys.argv[3]); "
    "print(json.dumps({'folder': str(folder), 'record': record}))"
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


def trained_base_standin(
    *, recipe: Recipe = BASE_RECIPE, cache: Path = CACHE, size: Size = "base"
) -> tuple[Path, dict[str, Any]]:
    """The briefly trained BERT-base stand-in's folder and training record, trained on first use.

    Trained in a child process (torch's memory then leaves with it) by `hubdeploy.artifacts.standin.trained_model`,
    which caches it under `cache` by recipe and data, renaming it into place only once complete. `size` is for
    tests (`tiny` trains in seconds).
    """
    print(f"   the trained {size} stand-in in {cache} (trained once: minutes for base)", flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", TRAIN_CODE, str(cache), json.dumps(asdict(recipe)), size],
        check=True,
        stdout=subprocess.PIPE,  # the folder and record; stderr (progress, a failure's traceback) shows as it is
        text=True,
    )
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return Path(answer["folder"]), answer["record"]
