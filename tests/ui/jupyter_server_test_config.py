"""Jupyter server configuration for the labrig UI tests (galata + Playwright).

Never use this configuration outside tests: it turns off every security protection.
"""

import os
from pathlib import Path
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # type: ignore[name-defined]  # noqa: F821

configure_jupyter_server(c)

# A fixed port that does not clash with a researcher's own JupyterLab on 8888.
c.ServerApp.port = int(os.environ.get("LABRIG_UI_PORT", "18888"))
c.ServerApp.port_retries = 0

# Fresh, throw-away labrig state for every server start. The server's kernels and job ranks
# read this file too (LABRIG_CONFIG_FILE): they inherit the folder through the environment.
if not os.environ.get("LABRIG_UI_TEST_STATE"):
    os.environ["LABRIG_UI_TEST_STATE"] = mkdtemp(prefix="labrig-ui-data-")
_data_dir = Path(os.environ["LABRIG_UI_TEST_STATE"])
c.LabrigApp.data_dir = str(_data_dir)
c.LabrigApp.database_url = f"sqlite:///{_data_dir / 'labrig.db'}"
c.DatasetCache.mount_root = str(_data_dir / "mounts")

# CI containers often run as root; the tests reach nothing outside this machine.
c.ServerApp.allow_root = True
c.LabApp.extension_manager = "readonly"
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None
