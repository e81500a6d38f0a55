"""Jupyter server configuration for the labrig UI tests (galata + Playwright).

Never use this configuration outside tests: it turns off every security protection.

Playwright starts two servers from this file (tests/ui/playwright.config.ts):
- the section specs' server: labrig's defaults, an empty dataset catalog;
- with ``LABRIG_UI_WORKSPACE=demo``, the demo workspace that ``make run`` opens, for the
  end-to-end scenario: examples/jupyter_server_config.py loaded as is (the ``moons`` dataset in
  the catalog, the profiles sized to this machine), its state moved to a throw-away folder, and
  a fresh copy of the example notebook at the root of the file browser.
"""

import os
import shutil
from pathlib import Path
from tempfile import gettempdir, mkdtemp

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # type: ignore[name-defined]  # noqa: F821

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO = os.environ.get("LABRIG_UI_WORKSPACE") == "demo"

configure_jupyter_server(c)

if DEMO:
    # Everything `make run` configures; the state and the root folder are replaced below.
    load_subconfig("jupyter_server_config.py", str(EXAMPLES))  # type: ignore[name-defined]  # noqa: F821

# A fixed port that does not clash with a researcher's own JupyterLab on 8888.
c.ServerApp.port = int(os.environ.get("LABRIG_UI_PORT", "18888")) + (1 if DEMO else 0)
c.ServerApp.port_retries = 0

# Fresh, throw-away labrig state for every server start. The server's kernels and job ranks
# read this file too (LABRIG_CONFIG_FILE): they inherit the folder through the environment.
_state_env = "LABRIG_UI_DEMO_STATE" if DEMO else "LABRIG_UI_TEST_STATE"
if not os.environ.get(_state_env):
    os.environ[_state_env] = mkdtemp(prefix="labrig-ui-demo-" if DEMO else "labrig-ui-data-")
    if DEMO:
        # The demo workspace as a new user finds it; jobs write their outputs beside it.
        workspace = Path(os.environ[_state_env]) / "workspace"
        workspace.mkdir()
        shutil.copy(EXAMPLES / "train_moons.ipynb", workspace)
_data_dir = Path(os.environ[_state_env])
c.LabrigApp.data_dir = str(_data_dir)
c.LabrigApp.database_url = f"sqlite:///{_data_dir / 'labrig.db'}"
c.DatasetCache.mount_root = str(_data_dir / "mounts")
# The specs add file:// datasets from folders they make in the temp dir, and from examples/.
c.LabrigApp.local_dataset_roots = [gettempdir(), str(EXAMPLES)]
if DEMO:
    c.ServerApp.root_dir = str(_data_dir / "workspace")

# CI containers often run as root; the tests reach nothing outside this machine.
c.ServerApp.allow_root = True
c.LabApp.extension_manager = "readonly"
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None
