"""Which provisioner starts a kernel whose kernelspec names one of labrig's: the kernel backend
the server runs with decides, not the kernelspec.

Kernelspecs live with the images and users' data dirs and outlast a deployment's settings;
``LabrigApp.kernel_backend`` is the one place a platform team says where kernels run. So under
``KubernetesKernelBackend`` a kernelspec naming ``labrig-local-provisioner`` starts a pod (its
kernel would otherwise run inside the Jupyter server's own pod, outside the namespace's quota
and without the GPUs it asked for), and under the local backend one naming
``labrig-kubernetes-provisioner`` starts a local kernel. Where no server chose a backend (a
job's rank, a script), the kernelspec's provisioner is used as named.
"""

from __future__ import annotations

import logging
from typing import Any

from labrig.resources import backend as kernel_backends

log = logging.getLogger(__name__)


def provisioner_class(named: str, named_class: type) -> type:
    """The class that starts a kernel whose kernelspec names ``named`` (``named_class``)."""
    backend = kernel_backends.chosen()
    if backend is None or backend.provisioner_name == named:
        return named_class
    from jupyter_client.provisioning.factory import KernelProvisionerFactory

    entry = KernelProvisionerFactory.instance().provisioners.get(backend.provisioner_name)
    if entry is None:
        # The server registers labrig's provisioners when it starts; this one it does not know.
        return named_class
    chosen: type = entry.load()
    log.info(
        "labrig: the kernelspec names %s; %s starts it (LabrigApp.kernel_backend is %s)",
        named,
        backend.provisioner_name,
        type(backend).__name__,
    )
    return chosen


def routed(cls: type, named: str, *args: Any, **kwargs: Any) -> Any | None:
    """An instance of the backend's provisioner when it is not ``cls``; else None (``cls``
    makes its own)."""
    chosen = provisioner_class(named, cls)
    return None if chosen is cls else chosen(*args, **kwargs)
