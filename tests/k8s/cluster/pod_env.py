"""What a container sees on this host: its volumes materialised as directories, its env
(with ``valueFrom`` sources and the loopback rewrites), and its paths rewritten to where
the volumes really are (see ``KUBELET``)."""

from __future__ import annotations

import base64
import os
import re
import socket
from collections.abc import Callable
from typing import Any

from .. import kube
from ..store import Store
from .common import controller_uid
from .pod_runs import KubeletSettings, PodRun


class ConfigError(Exception):
    """A pod that cannot be configured: CreateContainerConfigError."""


class PodEnvironment:
    """Volumes and env of the kubelet's containers; one free port per job and original
    port (so that concurrent jobs do not collide)."""

    def __init__(self, store: Store, settings: KubeletSettings) -> None:
        self.store = store
        self.settings = settings
        self._ports: dict[tuple[str, str], int] = {}
        self.taken_ports: set[int] = set()

    def materialise_volumes(self, pod: dict[str, Any], run: PodRun) -> dict[str, str]:
        """Volume name -> host directory."""
        ns = run.namespace
        out: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol["name"]
            target = run.dir / "volumes" / name
            if "emptyDir" in vol:
                target.mkdir(parents=True, exist_ok=True)
                out[name] = str(target)
            elif "configMap" in vol or "secret" in vol:
                is_cm = "configMap" in vol
                src = vol["configMap"] if is_cm else vol["secret"]
                obj_name = src.get("name") if is_cm else src.get("secretName")
                obj = self.store.try_get(
                    "configmaps" if is_cm else "secrets", ns, obj_name or "", copy_=False
                )
                if obj is None:
                    if src.get("optional"):
                        target.mkdir(parents=True, exist_ok=True)
                        out[name] = str(target)
                        continue
                    what = "configmap" if is_cm else "secret"
                    raise ConfigError(f'{what} "{obj_name}" not found')
                data: dict[str, bytes] = {}
                if is_cm:
                    data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
                    data.update(
                        {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
                    )
                else:
                    data.update(
                        {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
                    )
                target.mkdir(parents=True, exist_ok=True)
                items = src.get("items")
                files = (
                    {i["path"]: data[i["key"]] for i in items if i["key"] in data}
                    if items
                    else {k: v for k, v in data.items()}
                )
                for rel, content in files.items():
                    path = target / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                out[name] = str(target)
            elif "persistentVolumeClaim" in vol:
                claim = vol["persistentVolumeClaim"].get("claimName", "")
                out[name] = (
                    str(self.settings.pvc_paths[claim]) if claim in self.settings.pvc_paths else ""
                )
            elif "hostPath" in vol:
                out[name] = vol["hostPath"].get("path", "")
            else:
                target.mkdir(parents=True, exist_ok=True)
                out[name] = str(target)
        return out

    def container_env(
        self, pod: dict[str, Any], run: PodRun, container: dict[str, Any]
    ) -> dict[str, str]:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns = meta["namespace"]
        env: dict[str, str] = {
            "PATH": self.settings.bin_dir
            + os.pathsep
            + os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(run.dir / "home"),
            "TMPDIR": str(run.dir / "tmp"),
            "HOSTNAME": spec.get("hostname") or meta["name"],
            "LANG": "C.UTF-8",
        }
        (run.dir / "home").mkdir(exist_ok=True)
        (run.dir / "tmp").mkdir(exist_ok=True)
        env.update(self.settings.extra_env)
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source or "secretRef" in source:
                is_cm = "configMapRef" in source
                ref = source["configMapRef"] if is_cm else source["secretRef"]
                obj = self.store.try_get(
                    "configmaps" if is_cm else "secrets", ns, ref.get("name", ""), copy_=False
                )
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(
                        f'{"configmap" if is_cm else "secret"} "{ref.get("name")}" not found'
                    )
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = v if is_cm else _b64(v)
        job_key = controller_uid(pod) or meta["uid"]
        for item in container.get("env") or []:
            name = item["name"]
            if "valueFrom" in item:
                value = self._value_from(pod, container, item["valueFrom"])
                if value is None:
                    continue
            else:
                value = expand(item.get("value", ""), env)
            env[name] = value
        # Loopback rewrites.
        for key in ("MASTER_ADDR", "PET_MASTER_ADDR"):
            if key in env:
                env[key] = "127.0.0.1"
        for key in ("MASTER_PORT", "PET_MASTER_PORT"):
            if key in env and env[key].isdigit():
                env[key] = str(self._job_port(job_key, env[key]))
        if "PET_RDZV_ENDPOINT" in env:
            host_port = env["PET_RDZV_ENDPOINT"].rsplit(":", 1)
            port = host_port[1] if len(host_port) == 2 and host_port[1].isdigit() else "29400"
            env["PET_RDZV_ENDPOINT"] = f"127.0.0.1:{self._job_port(job_key, port)}"
        return env

    def _job_port(self, job_key: str, original: str) -> int:
        key = (job_key, original)
        if key not in self._ports:
            self._ports[key] = free_port(self.taken_ports)
        return self._ports[key]

    def _value_from(
        self, pod: dict[str, Any], container: dict[str, Any], source: dict[str, Any]
    ) -> str | None:
        ns = pod["metadata"]["namespace"]
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            match = re.match(r"^metadata\.(labels|annotations)\['(.+)'\]$", path)
            if match:
                return str((pod["metadata"].get(match.group(1)) or {}).get(match.group(2), ""))
            simple = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": ns,
                "metadata.uid": pod["metadata"]["uid"],
                "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
                "status.hostIP": "127.0.0.1",
                "status.hostIPs": "127.0.0.1",
                "status.podIP": "127.0.0.1",
                "status.podIPs": "127.0.0.1",
            }
            if path in simple:
                return str(simple[path])
            raise ConfigError(f"unsupported fieldRef {path}")
        if "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            resource = ref.get("resource", "")
            kind, _, res = resource.partition(".")
            values = (container.get("resources") or {}).get(kind) or {}
            if res in values:
                amount = kube.parse_quantity(values[res])
            else:
                node = next(
                    (
                        n
                        for n in self.settings.nodes
                        if n.name == (pod.get("spec") or {}).get("nodeName")
                    ),
                    None,
                )
                amount = kube.parse_quantity(getattr(node, res, "0") if node else "0")
            divisor = kube.parse_quantity(ref.get("divisor", "1"))
            value = amount / divisor
            return str(int(value.to_integral_value(rounding="ROUND_CEILING")))
        for key, plural, what in (
            ("configMapKeyRef", "configmaps", "ConfigMap"),
            ("secretKeyRef", "secrets", "Secret"),
        ):
            if key in source:
                ref = source[key]
                obj = self.store.try_get(plural, ns, ref.get("name", ""), copy_=False)
                if obj is None:
                    if ref.get("optional"):
                        return None
                    raise ConfigError(
                        f"{'configmap' if plural == 'configmaps' else 'secret'} "
                        f'"{ref.get("name")}" not found'
                    )
                data = obj.get("data") or {}
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        return None
                    raise ConfigError(
                        f"couldn't find key {ref.get('key')} in {what} {ns}/{ref.get('name')}"
                    )
                value = data[ref["key"]]
                return value if plural == "configmaps" else _b64(value)
        return None


def mount_pairs(container: dict[str, Any], run: PodRun) -> list[tuple[str, str]]:
    """(mountPath, host dir) pairs, longest mountPath first; identity mounts left out."""
    pairs = []
    for mount in container.get("volumeMounts") or []:
        base = run.volumes.get(mount["name"])
        if base is None:
            continue
        if base == "":
            continue  # identity (PVC without a mapping)
        host = os.path.join(base, mount["subPath"]) if mount.get("subPath") else base
        if host != mount["mountPath"]:
            pairs.append((mount["mountPath"].rstrip("/") or "/", host))
    pairs.sort(key=lambda p: -len(p[0]))
    return pairs


def free_port(taken: set[int]) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port")


def _b64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (``$$`` escapes, unknown references stay)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_RE.sub(repl, text)


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: value


def rewrite_paths(text: str, mounts: list[tuple[str, str]]) -> str:
    for mount, host in mounts:
        if mount == "/":
            continue
        text = re.sub(re.escape(mount) + r"(?=/|$|[^\w.\-])", _literal(host), text)
    return text
