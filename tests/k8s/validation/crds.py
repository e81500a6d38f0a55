"""The pinned CRD files: where they are, what each says about its resource, its schemas."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import FieldError, ManifestInvalid

_YamlLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def crds_dir() -> Path:
    """Where the pinned CRDs are: ``$LABRIG_CRDS_DIR``, ``<repo>/../shared/k8s/crds``, or
    ``/work/shared/k8s/crds``; the first that exists."""
    env = os.environ.get("LABRIG_CRDS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    repo = here.parents[3]  # tests/k8s/validation/crds.py -> <repo>
    candidates = [repo.parent / "shared" / "k8s" / "crds"]
    # A git worktree (/work/wt/<name>) or a clone nested one level deeper.
    candidates += [p / "shared" / "k8s" / "crds" for p in repo.parents]
    candidates.append(Path("/work/shared/k8s/crds"))
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "pinned CRDs not found: set LABRIG_CRDS_DIR or provide <repo>/../shared/k8s/crds"
    )


@dataclass(frozen=True)
class CRDVersion:
    name: str
    served: bool
    storage: bool
    subresources: frozenset[str]
    deprecated: bool = False


@dataclass(frozen=True)
class CRDInfo:
    """What a CustomResourceDefinition says about its resource."""

    group: str
    kind: str
    plural: str
    singular: str
    list_kind: str
    namespaced: bool
    short_names: tuple[str, ...]
    versions: tuple[CRDVersion, ...]
    path: Path = field(compare=False)

    @property
    def name(self) -> str:
        return f"{self.plural}.{self.group}"

    @property
    def storage_version(self) -> str:
        return next(v.name for v in self.versions if v.storage)

    def version(self, name: str) -> CRDVersion | None:
        return next((v for v in self.versions if v.name == name and v.served), None)


@functools.lru_cache(maxsize=1)
def _crd_documents() -> dict[str, dict[str, Any]]:
    """CRD documents by file name (parsed once per process: about 0.5 s for all of them)."""
    docs = {}
    for path in sorted(crds_dir().glob("*.yaml")):
        with path.open("rb") as fh:
            doc = yaml.load(fh, Loader=_YamlLoader)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            doc["__path__"] = str(path)
            docs[path.name] = doc
    return docs


@functools.lru_cache(maxsize=1)
def crd_infos() -> tuple[CRDInfo, ...]:
    """Every pinned CRD, as ``CRDInfo``."""
    infos = []
    for doc in _crd_documents().values():
        spec = doc["spec"]
        names = spec["names"]
        versions = tuple(
            CRDVersion(
                name=v["name"],
                served=bool(v.get("served", True)),
                storage=bool(v.get("storage", False)),
                subresources=frozenset((v.get("subresources") or {}).keys()),
                deprecated=bool(v.get("deprecated", False)),
            )
            for v in spec["versions"]
        )
        infos.append(
            CRDInfo(
                group=spec["group"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                list_kind=names.get("listKind", names["kind"] + "List"),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                versions=versions,
                path=Path(doc["__path__"]),
            )
        )
    return tuple(infos)


def find_schema(group: str, version: str, kind: str) -> dict[str, Any]:
    for doc in _crd_documents().values():
        spec = doc["spec"]
        if spec["group"] == group and spec["names"]["kind"] == kind:
            for v in spec["versions"]:
                if v["name"] == version:
                    schema: dict[str, Any] = v["schema"]["openAPIV3Schema"]
                    return schema
            served = ", ".join(v["name"] for v in spec["versions"])
            raise ManifestInvalid(
                [
                    FieldError(
                        "apiVersion",
                        "Unsupported value",
                        f"supported versions: {served}",
                        f"{group}/{version}",
                        True,
                    )
                ]
            )
    raise ManifestInvalid(
        [FieldError("kind", "Invalid value", f"no pinned CRD for {kind}.{group}", kind, True)]
    )
