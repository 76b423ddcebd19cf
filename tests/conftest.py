import os
import sys
from pathlib import Path

import pytest

for k, v in {"HF_HUB_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "DVC_NO_ANALYTICS": "1",
             "GX_ANALYTICS_ENABLED": "false", "BENTOML_DO_NOT_TRACK": "true"}.items():
    os.environ.setdefault(k, v)

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # tests/_params.py
SHARED = REPO.parent / "shared"


def pytest_collection_modifyitems(config, items):
    """The integration module first: it is the longest (about half the suite's time, its tests
    one chain in one temporary repository), so with the test command's xdist workers
    (``--dist loadfile``: a module per worker) the other modules run beside it."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/integration/"))


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def aihub_labels() -> Path:
    p = SHARED / "data" / "aihub-labels"
    if not (p / "train_label.csv.gz").is_file():
        pytest.skip(f"real AI-Hub label tables not found at {p}")
    return p


@pytest.fixture(scope="session")
def small_tree(tmp_path_factory) -> Path:
    """A 20-image synthetic AI-Hub tree with ground truth, shared by the data tests."""
    from scalpvision.data.synthetic_dataset import plan_dataset, write_dataset

    out = tmp_path_factory.mktemp("aihub") / "aihub"
    plans = plan_dataset(20, seed=11, images_per_session=5, second_filing_share=0.5)
    write_dataset(out, plans, seed=11)
    return out
