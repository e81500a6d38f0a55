"""``FakeCluster``: the controllers of a cluster, playing against an ``ApiEmulator``.

One background thread reacts to store changes (and polls every ``poll`` seconds) and plays:

- **Kueue** (v0.19, Workload ``kueue.x-k8s.io/v1beta2``): a PyTorchJob/TrainJob labelled
  ``kueue.x-k8s.io/queue-name`` is suspended on create (Kueue's mutating webhook), gets a
  Workload owned by it, and is admitted against its ClusterQueue's ``nominalQuota``
  (priority, then creation time; BestEffortFIFO unless the queue says StrictFIFO), with
  Kueue's conditions and messages; finished or deleted jobs free their quota.
- **Training operator** (Kubeflow v1.9, PyTorchJob ``kubeflow.org/v1``): pods and services
  per replica, the operator's env (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, PET_*),
  conditions Created/Running/Succeeded/Failed/Suspended with upstream reasons and messages,
  replicaStatuses, start/completion times, cleanPodPolicy; its validating webhook.
- **Trainer** (v2.3, TrainJob ``trainer.kubeflow.org/v1alpha1``): a JobSet from the
  referenced (Cluster)TrainingRuntime and its pods (``<job>-node-0-<i>-<xxxxx>``) with the
  torch plugin's PET_* env, conditions Suspended/Complete/Failed and jobsStatus; its
  webhook rejects a TrainJob whose runtime does not exist.
- **Scheduler**: places pods on ``Node``s by requests (cpu, memory, extended resources),
  nodeSelector/required node affinity, taints/tolerations; otherwise ``PodScheduled=False``
  ``Unschedulable`` with the scheduler's message and a ``FailedScheduling`` event.
- **Kubelet**: pulls (``unpullable_images`` fail with ErrImagePull then ImagePullBackOff),
  then RUNS each container's command as a local process with the pod's env, serving its
  output as the pod log; OOMKilled over ``limits.memory``; eviction; deleted pods' processes
  are killed. See ``KUBELET`` for how a pod is made to work on loopback.
- **Fluid** (v1.0, ``data.fluid.io/v1alpha1``): runtimes become ready, Datasets bind and get
  their PVC (a directory of this host), DataLoads copy the source into it; PVCs of a
  provisioned StorageClass bind (``fluid``).

A module each: ``fake_cluster`` (``FakeCluster``, ``LIMITS``), ``kueue`` and
``kueue_scheduler``, ``training_operator`` and ``pytorch_spec``, ``trainer`` and ``jobset``,
``scheduler``, ``kubelet`` (``KUBELET``) with ``pod_runs``, ``pod_env`` and ``processes``,
``resource_quota``; ``node`` (``Node``), ``common`` and ``controller`` (what they share).
"""

from __future__ import annotations

from .fake_cluster import LIMITS, FakeCluster
from .kubelet import KUBELET
from .node import Node

__all__ = ["KUBELET", "LIMITS", "FakeCluster", "Node"]
