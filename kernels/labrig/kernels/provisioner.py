"""The local kernel provisioner.

Kernels it starts carry the settings that let ``import labrig`` inside the kernel reach the same
state as the server (``LABRIG_DATA_DIR``, ``LABRIG_DATABASE_URL``) and their own kernel id, so
what a notebook registers is attributed to it.
"""

from __future__ import annotations

import os
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

PROPAGATED = ("LABRIG_DATA_DIR", "LABRIG_DATABASE_URL")


class LabrigLocalProvisioner(LocalProvisioner):  # type: ignore[misc]
    """A local kernel, started with labrig's environment."""

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        env: dict[str, str] = dict(kwargs.get("env") or os.environ)
        for name in PROPAGATED:
            if name in os.environ:
                env.setdefault(name, os.environ[name])
        env["LABRIG_KERNEL_ID"] = self.kernel_id
        kwargs["env"] = env
        result: dict[str, Any] = await super().pre_launch(**kwargs)
        return result
