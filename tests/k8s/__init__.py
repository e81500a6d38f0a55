"""Kubernetes without a cluster: schema validation, an API server emulator, a fake cluster.

- ``validation``: manifests against the pinned CRDs (jsonschema) and core kinds
  (kubernetes-validate, strict), raising ``ManifestInvalid`` naming the field path.
- ``emulator``: ``ApiEmulator``, a Kubernetes API server on loopback that the real
  ``kubernetes`` Python client talks to over HTTP.
- ``cluster``: ``FakeCluster``, controllers that play Kueue, the training operator
  (PyTorchJob v1), the trainer (TrainJob v1alpha1), the scheduler and the kubelet, which
  runs each pod's container command as a local process.

Tests import these as ``k8s.emulator`` etc. (``tests/`` is on ``sys.path`` through the
root conftest).
"""
