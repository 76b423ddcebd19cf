"""What each DVC stage really reads, derived from the code, against what ``dvc.yaml`` declares.

A stage's command names its script (``python pipelines/<x>.py``). Its *modules* are the
``scalpvision`` (and ``data_checks``) modules the script imports, transitively, lazy imports
inside functions included. Its *parameter sections* are the attributes read off the object
that ``load_params(...)`` returns in the script (``P.segment``, ``P["import"]``), plus the
sections that the model kinds it re-scores declare (``ModelKind.reads``) when the script
looks kinds up. Execution settings (``tracking``) are never stage parameters.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from scalpvision.config import EXECUTION_SECTIONS, yaml_load

PACKAGES = ("scalpvision", "data_checks")


@dataclass
class StageReads:
    stage: str
    script: Path
    modules: set[Path] = field(default_factory=set)  # repo-relative .py files
    sections: set[str] = field(default_factory=set)


def _module_file(root: Path, name: str) -> Path | None:
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = root.joinpath(*parts)
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand.relative_to(root)
    return None


@functools.lru_cache(maxsize=None)
def _imports(root: Path, path: Path) -> frozenset[str]:
    tree = ast.parse((root / path).read_text(encoding="utf-8"), str(path))
    names: set[str] = set()
    pkg = ".".join(path.with_suffix("").parts[:-1]) if path.name != "__init__.py" else \
        ".".join(path.parent.parts)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join([*base, mod] if mod else base)
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)  # from pkg import module
    out = set()
    for n in names:
        parts = n.split(".")
        for i in range(1, len(parts) + 1):  # a package's __init__ runs on import too
            out.add(".".join(parts[:i]))
    return frozenset(out)


def module_closure(root: Path, script: Path) -> set[Path]:
    """Every package module ``script`` imports, transitively (repo-relative paths). Files are
    parsed once per process (the check is run many times by its own test)."""
    return set(_closure(root.resolve(), Path(script)))


@functools.lru_cache(maxsize=None)
def _closure(root: Path, script: Path) -> frozenset[Path]:
    seen: set[Path] = set()
    todo = [script]
    while todo:
        f = todo.pop()
        for name in _imports(root, f):
            m = _module_file(root, name)
            if m is not None and m not in seen:
                seen.add(m)
                todo.append(m)
    return frozenset(seen)


def section_reads(root: Path, script: Path) -> tuple[set[str], bool]:
    """(sections read off ``load_params(...)``'s result, whether the script looks up kinds)."""
    sections, kinds = _section_reads(root.resolve(), Path(script))
    return set(sections), kinds


@functools.lru_cache(maxsize=None)
def _section_reads(root: Path, script: Path) -> tuple[frozenset[str], bool]:
    tree = ast.parse((root / script).read_text(encoding="utf-8"), str(script))
    holders: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            fn = node.value.func
            name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", "")
            if name == "load_params":
                holders.update(t.id for t in node.targets if isinstance(t, ast.Name))
    sections: set[str] = set()
    kinds = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in holders and node.attr not in ("subset", "profile", "source"):
            sections.add(node.attr)
        elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) \
                and node.value.id in holders and isinstance(node.slice, ast.Constant):
            sections.add(node.slice.value)
        elif isinstance(node, ast.Name) and node.id == "get_kind":
            kinds = True
    return frozenset(sections), kinds


def stage_reads(root: Path, stage: str, cmd: str, params: dict) -> StageReads:
    m = re.match(r"python\s+(\S+\.py)", cmd)
    if not m:
        raise ValueError(f"stage {stage}: command {cmd!r} does not run a pipelines/ script")
    script = Path(m.group(1))
    reads = StageReads(stage, script, module_closure(root, script))
    reads.sections, kinds = section_reads(root, script)
    if kinds:  # a kind re-scores on the sections it declares (ModelKind.reads)
        from scalpvision.ops.kinds import get_kind

        for rule in params.get("promote", {}).get("models", []):
            kind = get_kind(rule["kind"])
            reads.sections.update(kind.reads)
            mod = _module_file(root, kind.log.__module__)
            if mod is not None:  # found at run time, so not among the script's imports
                reads.modules |= {mod} | module_closure(root, mod)
    return reads


def _covered(path: Path, deps: list[str]) -> bool:
    """Whether a dep (normalised by :func:`_norm`) is ``path`` or a folder above it."""
    p = path.as_posix()
    return any(p == d or p.startswith(d + "/") for d in deps)


def _norm(deps) -> list[str]:
    return [Path(str(d)).as_posix() for d in deps]


@functools.lru_cache(maxsize=8)
def _params(path: Path, mtime_ns: int) -> dict:
    return yaml_load(path.read_text())


def check_graph(root: Path, dvc: dict | None = None) -> list[str]:
    """Every mismatch between the code and ``dvc.yaml`` (empty when the graph is honest):
    an imported module no dep covers, a section read but not declared, a section declared but
    not read, an execution section declared."""
    dvc = dvc if dvc is not None else yaml_load((root / "dvc.yaml").read_text())
    pfile = (root / "params.yaml").resolve()
    params = _params(pfile, pfile.stat().st_mtime_ns)  # read only
    problems = []
    for stage, spec in dvc["stages"].items():
        r = stage_reads(root, stage, spec["cmd"], params)
        deps = _norm(spec.get("deps", []))
        declared = {p if isinstance(p, str) else next(iter(p)) for p in spec.get("params", [])}
        if "profile" not in declared or not _covered(Path("profiles/paper.yaml"), deps):
            problems.append(f"{stage}: must declare the `profile` param and the profiles/ dep "
                            "(a profile overlay changes its parameters)")
        declared.discard("profile")
        if not _covered(r.script, deps):
            problems.append(f"{stage}: its script {r.script} is not a dep")
        for mod in sorted(r.modules):
            if not _covered(mod, deps):
                problems.append(f"{stage}: imports {mod}, which no dep covers")
        reads = r.sections - set(EXECUTION_SECTIONS)
        for sec in sorted(reads - declared):
            problems.append(f"{stage}: reads params section {sec!r}, not declared")
        for sec in sorted(declared - reads):
            problems.append(f"{stage}: declares params section {sec!r}, never read")
        for sec in sorted(declared & set(EXECUTION_SECTIONS)):
            problems.append(f"{stage}: declares execution section {sec!r} as a stage param")
    return problems


def _is_code_dep(dep: str) -> bool:
    p = Path(dep)
    return p.suffix == ".py" or (p.parts[0] in (*PACKAGES, "pipelines") and len(p.parts) > 1) \
        or dep == "pipelines"


def sync_deps(root: Path) -> dict:
    """``dvc.yaml`` with each stage's code deps and params set to what the code reads (data
    deps, outs and metrics kept); written back, and returned."""
    path = root / "dvc.yaml"
    dvc = yaml_load(path.read_text())
    params = yaml_load((root / "params.yaml").read_text())
    for stage, spec in dvc["stages"].items():
        r = stage_reads(root, stage, spec["cmd"], params)
        data = [d for d in spec.get("deps", []) if not _is_code_dep(str(d)) and d != "profiles"]
        covered = _norm(data)
        spec["deps"] = [*data, "profiles", str(r.script), *sorted(
            str(m) for m in r.modules if not _covered(m, covered))]
        spec["params"] = ["profile", *sorted(r.sections - set(EXECUTION_SECTIONS))]
    path.write_text(yaml.safe_dump(dvc, sort_keys=False, width=100))
    return dvc
