"""The base of every pluggable backend: configurable like any Jupyter object, abstract like a
protocol, so a subclass that forgets a method fails when it is instantiated, not mid-request."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod

from traitlets import MetaHasTraits
from traitlets.config import LoggingConfigurable


class _ConfigurableABCMeta(MetaHasTraits, ABCMeta):
    """Lets a traitlets ``Configurable`` also declare abstract methods."""


class Backend(LoggingConfigurable, metaclass=_ConfigurableABCMeta):
    """A backend labrig can swap between the local machine and Kubernetes."""

    #: Short label shown in ``labrig status`` and the panel, e.g. ``local``.
    kind: str = ""

    @abstractmethod
    def capabilities(self) -> dict[str, str]:
        """What this backend can do on this host, each as a short human-readable label."""
