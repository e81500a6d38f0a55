"""``import labrig`` in REST mode against a real server: models registered from a path, a folder
and a torch module, then loaded back; datasets added, warmed and read; a kernel's resources
requested and released; every record owned by the server's user, whatever LABRIG_USER says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rest_rig import CLAIMED, OWNER, Client
from server_process import ServerProcess

pytestmark = pytest.mark.slow


def test_models_registered_from_a_path_and_a_module_are_on_the_server_with_their_files(
    client: Client, server: ServerProcess, root: Path
) -> None:
    (root / "weights.bin").write_bytes(b"\x01\x02" * 5000)
    (root / "ckpt").mkdir()
    (root / "ckpt" / "a.txt").write_text("alpha")
    (root / "ckpt" / "sub").mkdir()
    (root / "ckpt" / "sub" / "b.txt").write_text("beta")
    (root / "ckpt" / "linked.txt").symlink_to(root / "ckpt" / "a.txt")
    out = client.python(
        """
import argparse, json, torch, labrig.errors, labrig.models as m
a = m.register("net", "weights.bin", metrics={"acc": 0.5}, note="from a file")
b = m.register("net", "ckpt", tags={"kind": "folder"})
module = torch.nn.Linear(3, 2)
c = m.register("linear", module, params={"lr": 0.1})
file_path = m.load("net/1")
folder = m.load("net/2")
state = m.load("linear")
tensors = m.load_torch("linear/1")
torch.save({"w": torch.ones(2), "opts": argparse.Namespace(lr=0.1)}, "ckpt.pt")
m.register("pickled", "ckpt.pt")
try:
    m.load_torch("pickled")
    refused = None
except labrig.errors.InvalidInput as err:
    refused = err.message
trusted = m.load_torch("pickled", trust_pickle=True)  # registered by this token's user
form = m.widget()
form.name.value, form.path.value, form.metrics.value = "net", "weights.bin", "acc=0.7"
by_form = form.register()
print(json.dumps({
    "refs": [a["ref"], b["ref"], c["ref"]],
    "file": open(file_path, "rb").read() == b"\\x01\\x02" * 5000,
    "folder": sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.txt")),
    "state_equal": all(torch.equal(state[k], module.state_dict()[k]) for k in state),
    "tensors_equal": all(torch.equal(tensors[k], module.state_dict()[k]) for k in tensors),
    "keys": sorted(tensors),
    "form": [list(form.name.options), by_form["ref"], by_form["metrics"]],
    "pickle": [refused, trusted["opts"].lr],
}))
"""
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["refs"] == ["net/1", "net/2", "linear/1"]
    assert result["file"] is True
    assert result["folder"] == ["a.txt", "linked.txt", "sub/b.txt"]
    assert result["state_equal"]
    assert result["tensors_equal"]
    assert result["keys"] == ["bias", "weight"]
    assert result["form"] == [["linear", "net", "pickled"], "net/3", {"acc": 0.7}]
    refused, trusted_lr = result["pickle"]
    assert "trust_pickle=True" in refused
    assert trusted_lr == 0.1

    first = server.call("models/net/versions/1")
    assert first["user"] == OWNER != CLAIMED
    assert first["kind"] == "file"
    assert first["metrics"] == {"acc": 0.5}
    assert [f["path"] for f in first["files"]] == ["weights.bin"]
    assert first["lineage"]["registered_from"] == "upload"
    second = server.call("models/net/versions/2")
    assert second["kind"] == "directory"
    assert sorted(f["path"] for f in second["files"]) == ["a.txt", "linked.txt", "sub/b.txt"]
    linear = server.call("models/linear/versions/1")
    assert linear["kind"] == "module"
    assert linear["params"] == {"lr": 0.1}
    assert linear["lineage"]["module_class"] == "torch.nn.modules.linear.Linear"
    assert [f["path"] for f in linear["files"]] == ["labrig-module.json", "model.safetensors"]


def test_a_registration_outside_the_source_roots_is_refused_before_any_upload(
    client: Client, server: ServerProcess
) -> None:
    # Outside the Jupyter root and the temporary directory (the default source roots).
    out = client.python(
        """
import labrig.models as m
from labrig.errors import InvalidInput
try:
    m.register("net", "/etc/hostname")
except InvalidInput as err:
    print("refused:", err.message)
"""
    )
    assert out.startswith("refused:"), out
    assert "/etc/hostname" in out
    assert server.call("models")["items"] == []


def test_datasets_added_warmed_and_read_over_rest(
    client: Client, server: ServerProcess, root: Path
) -> None:
    source = root / "data" / "digits"
    source.mkdir(parents=True)
    for index in range(3):
        (source / f"{index}.txt").write_text(f"digit {index}\n")
    out = client.python(
        f"""
import json, labrig.datasets as ds
added = ds.add("digits", {source.as_uri()!r})
warmed = ds.warm("digits", progress=False)
root = ds.path("digits")
print(json.dumps({{
    "owner": added["owner"],
    "warmed": [warmed["state"], warmed["files_total"]],
    "files": sorted(p.name for p in root.iterdir()),
    "read": ds.open("digits", "1.txt").read().decode(),
    "listed": [d["name"] for d in ds.ls()],
    "version": ds.version("digits") == ds.show("digits")["version"],
}}))
"""
    )
    result = json.loads(out.strip().splitlines()[-1])
    assert result["owner"] == OWNER
    assert result["warmed"] == ["succeeded", 3]
    assert result["files"] == ["0.txt", "1.txt", "2.txt"]
    assert result["read"] == "digit 1\n"
    assert "digits" in result["listed"]
    assert result["version"] is True
    shown = server.call("datasets/digits")
    assert shown["mount_path"]
    assert shown["files"] == 3


def test_a_dataset_refreshed_to_a_new_version_and_removed_over_rest(
    client: Client, server: ServerProcess, root: Path
) -> None:
    source = root / "letters"
    source.mkdir()
    (source / "a.txt").write_text("a")
    client.python(f"import labrig.datasets as ds; ds.add('letters', {source.as_uri()!r})")
    (source / "b.txt").write_text("b")
    out = client.python(
        """
import json, labrig.datasets as ds
before = ds.version("letters")
preview = ds.refresh("letters")
moved = ds.confirm_refresh("letters", preview["new_version"])
print(json.dumps([preview["changed"], before, preview["new_version"], moved["version"]]))
ds.remove("letters")
"""
    )
    changed, before, new, pinned = json.loads(out.strip().splitlines()[-1])
    assert changed is True
    assert new == pinned != before
    status, body = server.error("datasets/letters")
    assert status == 404, body


def test_resources_requested_shown_and_released_over_rest(
    client: Client, server: ServerProcess
) -> None:
    out = client.python(
        """
import json, labrig.resources as r
saved = r.request("nb/train.ipynb", cpus="1", memory="1Gi")
shown = r.show("nb/train.ipynb")
r.release("nb/train.ipynb")
after = r.show("nb/train.ipynb")
print(json.dumps([saved["request"]["cpus"], shown["request"]["memory"], after["request"]]))
"""
    )
    assert json.loads(out.strip().splitlines()[-1]) == [1.0, 2**30, None]
    assert server.call("resources")["items"] == []
