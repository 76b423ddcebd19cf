"""The AI-Hub "scalp images by type" (유형별 두피 이미지, dataSetSn 216) file layout.

One place that knows the folder and file-name conventions, used by the synthetic writer and the
importer alike::

    <root>/Training/01.원천데이터/[원천]1.미세각질_2.중등도/<name>.jpg
    <root>/Training/02.라벨링데이터/[라벨]1.미세각질_2.중등도/<name>.json
    <root>/Validation/...

File names are ``{code}_{serial}_{epoch ms}_{position}_{TH|LH|RH|BH}.jpg``; the position digit and
the region always co-occur as 2/3 -> TH, 4 -> LH, 5 -> RH, 6 -> BH (reference-method.md §1.1).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPLIT_DIRS = ("Training", "Validation")
IMAGE_ROOT = "01.원천데이터"
LABEL_ROOT = "02.라벨링데이터"
IMAGE_PREFIX = "[원천]"
LABEL_PREFIX = "[라벨]"

CONDITIONS = {
    1: "미세각질",  # fine scale
    2: "피지과다",  # excess sebum
    3: "모낭사이홍반",  # interfollicular erythema
    4: "모낭홍반농포",  # follicular erythema / pustules
    5: "비듬",  # dandruff
    6: "탈모",  # hair loss
}
CONDITIONS_EN = {
    1: "fine_scale", 2: "excess_sebum", 3: "interfollicular_erythema",
    4: "follicular_erythema_pustules", 5: "dandruff", 6: "hair_loss",
}
GRADES = {0: "양호", 1: "경증", 2: "중등도", 3: "중증"}  # good, mild, moderate, severe
POSITION_REGION = {2: "TH", 3: "TH", 4: "LH", 5: "RH", 6: "BH"}
VALUE_COLUMNS = tuple(f"value_{i}" for i in range(1, 7))
TARGET_COLUMNS = ("dandruff", "sebum", "erythema", "alopecia")

_NAME_RE = re.compile(
    r"^(?P<code>\d{4})_(?P<serial>[A-Z0-9]+)_(?P<epoch_ms>\d{6,14})_(?P<position>[2-6])_"
    r"(?P<region>TH|LH|RH|BH)\.(?:jpg|jpeg|JPG|JPEG)$"
)
_FOLDER_RE = re.compile(r"^\[(?:원천|라벨)\](?P<n>[1-6])\.(?P<cond>[^_]+)_(?P<g>[0-3])\.(?P<grade>.+)$")


def condition_folder(kind: str, condition: int, grade: int) -> str:
    """``condition_folder("image", 1, 2) -> "[원천]1.미세각질_2.중등도"``."""
    prefix = {"image": IMAGE_PREFIX, "label": LABEL_PREFIX}[kind]
    return f"{prefix}{condition}.{CONDITIONS[condition]}_{grade}.{GRADES[grade]}"


def parse_condition_folder(name: str) -> tuple[int, int] | None:
    """Return ``(condition, grade)`` for an AI-Hub condition folder name, else None."""
    m = _FOLDER_RE.match(name)
    return (int(m["n"]), int(m["g"])) if m else None


@dataclass(frozen=True)
class NameTokens:
    code: str
    serial: str
    epoch_ms: int
    position: int
    region: str

    @property
    def group(self) -> str:
        """Subject id used for grouped splits: subject code + device serial."""
        return f"{self.code}_{self.serial}"


def make_file_name(code: str, serial: str, epoch_ms: int, position: int) -> str:
    return f"{code}_{serial}_{epoch_ms}_{position}_{POSITION_REGION[position]}.jpg"


def parse_file_name(name: str) -> NameTokens:
    """Parse an AI-Hub image file name; raises ValueError naming the problem."""
    m = _NAME_RE.match(name)
    if not m:
        raise ValueError(
            f"{name}: file name does not follow {{code}}_{{serial}}_{{epoch ms}}_{{position 2-6}}_"
            "{TH|LH|RH|BH}.jpg"
        )
    pos, region = int(m["position"]), m["region"]
    if POSITION_REGION[pos] != region:
        raise ValueError(f"{name}: position {pos} must go with region {POSITION_REGION[pos]}")
    return NameTokens(m["code"], m["serial"], int(m["epoch_ms"]), pos, region)


def derive_targets(values: dict[str, int]) -> dict[str, int]:
    """The paper's four targets from the six AI-Hub values (reference-method.md §1.2)."""
    return {
        "dandruff": max(values["value_1"], values["value_5"]),
        "sebum": values["value_2"],
        "erythema": max(values["value_3"], values["value_4"]),
        "alopecia": values["value_6"],
    }
