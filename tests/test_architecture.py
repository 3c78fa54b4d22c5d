"""The stages import in one direction only: no module imports a later stage (lazy imports included).

The order is the data flow of README.md's architecture section; a module may import its own
stage and any earlier one. Checked on the source (every ``import`` statement, at module level
or inside a function), so a lazy import cannot hide a cycle.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "harmoniq"

#: stage -> rank; a module of rank r imports only modules of rank <= r
ORDER = [
    ("errors", "constants", "names"),
    ("models", "provenance", "atomic", "backend", "progress", "memory", "cluster"),
    ("bids",),
    ("protocols",),
    ("seqfile", "phantoms"),
    ("scanners", "sequences"),
    ("simulation",),
    ("io",),
    ("recon",),
    ("fitting",),
    ("analysis",),
    ("pipeline", "experiments", "batch"),
    ("cli",),
]
RANK = {stage: rank for rank, stages in enumerate(ORDER) for stage in stages}
#: within one rank, the direction that holds (earlier -> later never the other way)
SAME_RANK_ORDER = {("scanners", "sequences"), ("pipeline", "experiments"), ("experiments", "batch"),
                   ("pipeline", "batch"), ("seqfile", "phantoms")}


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "harmoniq" and len(parts) > 1 else ("harmoniq" if module == "harmoniq" else None)


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno


def _violations():
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if own in ("__init__", "__main__"):
            continue
        assert own in RANK, f"{path}: stage {own!r} has no place in the import order; add it to ORDER"
        for module, line in _imports(path):
            other = _stage(module)
            if other in (None, own, "harmoniq"):
                continue
            assert other in RANK, f"{path}:{line}: imports {module}, whose stage is not in ORDER"
            if RANK[other] > RANK[own] or (RANK[other] == RANK[own] and (other, own) not in SAME_RANK_ORDER):
                yield f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {module} ({other})"


def test_no_stage_imports_a_later_one():
    violations = list(_violations())
    assert violations == [], "\n".join(violations)


def test_protocols_import_nothing_from_later_stages():
    for path in (PACKAGE / "protocols").rglob("*.py"):
        stages = {_stage(m) for m, _ in _imports(path)} - {None, "harmoniq"}
        assert stages <= {"errors", "constants", "names", "models", "protocols"}, path
