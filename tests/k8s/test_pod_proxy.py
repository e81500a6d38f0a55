"""The pod proxy subresource through the real client, to servers the fake kubelet runs in pods,
and what a container sees of its own cgroup at /sys/fs/cgroup."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .cluster import FakeCluster
from .emulator import ApiEmulator
from .helpers import pod_log, wait_for

PORT = 8080
IDLE = [sys.executable, "-c", "import time; time.sleep(600)"]
#: A server in the pod that answers its pod name and the query, on $SERVE_PORT.
SERVER = (
    "import http.server, json, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = json.dumps({'pod': os.environ['HOSTNAME'], 'path': self.path}).encode()\n"
    "        self.send_response(201 if 'created' in self.path else 200)\n"
    "        self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "http.server.HTTPServer(('0.0.0.0', int(os.environ['SERVE_PORT'])), H).serve_forever()\n"
)


def serving_pod(name: str, command: list[str] | None = None) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "python:3",
        "command": command or [sys.executable, "-c", SERVER],
        "env": [{"name": "SERVE_PORT", "value": str(PORT)}],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container]},
    }


def proxied(core: client.CoreV1Api, name: str, path: str) -> tuple[int, Any]:
    response = core.connect_get_namespaced_pod_proxy_with_path(
        name, "ml", path, _preload_content=False
    )
    return response.status, json.loads(response.data)


def running(core: client.CoreV1Api, name: str) -> bool:
    return core.read_namespaced_pod(name, "ml").status.phase == "Running"


def answers(core: client.CoreV1Api, name: str) -> Any:
    try:
        return proxied(core, name, "ready")
    except ApiException as err:
        if err.status == 503:
            return None  # running, not listening yet
        raise


def test_two_pods_on_the_same_port_each_answer_through_the_proxy(
    cluster: FakeCluster, core: client.CoreV1Api
) -> None:
    for name in ("a", "b"):
        core.create_namespaced_pod("ml", serving_pod(name))
    for name in ("a", "b"):
        wait_for(lambda name=name: running(core, name) and answers(core, name))
    # The client escapes the path whole; the API server forwards it decoded.
    assert proxied(core, f"a:{PORT}", "x/y") == (200, {"pod": "a", "path": "/x/y"})
    assert proxied(core, f"b:{PORT}", "hello") == (200, {"pod": "b", "path": "/hello"})
    # Without a port, the first declared one; the pod's own status is relayed.
    assert proxied(core, "a", "created") == (201, {"pod": "a", "path": "/created"})


def test_the_proxy_refuses_as_the_api_server_does(
    emu: ApiEmulator, cluster: FakeCluster, core: client.CoreV1Api
) -> None:
    with pytest.raises(ApiException) as missing:
        proxied(core, f"nowhere:{PORT}", "usage")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["message"] == 'pods "nowhere" not found'
    # A pod whose process does not listen: 503, the dial's error.
    core.create_namespaced_pod("ml", serving_pod("quiet", IDLE))
    wait_for(lambda: running(core, "quiet"))
    with pytest.raises(ApiException) as quiet:
        proxied(core, f"quiet:{PORT}", "usage")
    assert quiet.value.status == 503
    body = json.loads(quiet.value.body)
    assert body["reason"] == "ServiceUnavailable"
    assert body["message"].startswith("error trying to reach service: dial tcp 127.0.0.1:8080")
    # An undeclared port is not reachable either.
    with pytest.raises(ApiException) as undeclared:
        proxied(core, "quiet:9999", "usage")
    assert undeclared.value.status == 503
    emu.deny("get", "pods/proxy")
    with pytest.raises(ApiException) as denied:
        proxied(core, f"quiet:{PORT}", "usage")
    assert denied.value.status == 403
    assert 'cannot get resource "pods/proxy"' in json.loads(denied.value.body)["message"]


def test_a_pod_that_is_not_scheduled_has_no_address(
    cluster: FakeCluster, core: client.CoreV1Api
) -> None:
    pod = serving_pod("huge")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "64"}}
    core.create_namespaced_pod("ml", pod)
    with pytest.raises(ApiException) as pending:
        proxied(core, f"huge:{PORT}", "usage")
    assert pending.value.status == 400
    assert json.loads(pending.value.body)["message"] == "address not allowed"


READ_CGROUP = (
    "import os, time\n"
    "root = os.environ['CG']\n"
    "block = bytearray(64 * 2**20)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "time.sleep(1.5)\n"
    "print(open(root + '/cgroup.controllers').read().strip())\n"
    "print(open(root + '/memory.current').read().strip())\n"
    "print(open(root + '/memory.max').read().strip())\n"
)


def test_a_container_sees_its_own_cgroup_at_sys_fs_cgroup(
    cluster: FakeCluster, core: client.CoreV1Api
) -> None:
    pod = serving_pod("cg", [sys.executable, "-c", READ_CGROUP])
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "CG", "value": "/sys/fs/cgroup"}]
    container["resources"] = {"limits": {"memory": "1Gi"}}
    core.create_namespaced_pod("ml", pod)
    wait_for(lambda: core.read_namespaced_pod("cg", "ml").status.phase == "Succeeded")
    controllers, current, limit = pod_log(core, "cg").split("\n")[:3]
    assert controllers == "cpu memory pids"
    assert 64 * 2**20 < int(current) < 2**30  # the 64 MiB it touched, and the interpreter
    assert limit == str(2**30)
