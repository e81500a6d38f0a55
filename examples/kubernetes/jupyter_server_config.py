"""labrig on Kubernetes: notebook kernels in pods, jobs as Kubeflow PyTorchJobs queued by Kueue,
state in PostgreSQL, models and job reports on S3. The Jupyter server runs in a pod of namespace
``ml`` with the service account of ``rbac.yaml``; ``kueue.yaml`` creates the queue. Adapt the
names marked below.
"""

c = get_config()  # type: ignore[name-defined]  # noqa: F821

# Shared state: every server of the team sees the same jobs, datasets and models.
c.LabrigApp.database_url = "postgresql+psycopg://labrig@postgres.ml.svc/labrig"  # adapt
c.LabrigApp.model_store_url = "s3://ml-models/labrig"  # adapt

# Jobs: one PyTorchJob (Master + Workers) per labrig job, admitted by Kueue.
c.LabrigApp.job_backend_class = "labrig.k8s.jobs.KubernetesJobBackend"
c.KubernetesJobBackend.namespace = "ml"
c.KubernetesJobBackend.image = "registry.example.com/ml/labrig-rank:0.1"  # built from Dockerfile
c.KubernetesJobBackend.image_pull_secrets = ["registry-credentials"]
c.KubernetesJobBackend.service_account = "labrig-rank"
c.KubernetesJobBackend.job_api = "pytorchjob"  # or "trainjob" (Kubeflow Trainer v2)
c.KubernetesJobBackend.queue_name = "ml-queue"  # the LocalQueue in kueue.yaml
c.KubernetesJobBackend.priority_classes = {"0": "research", "10": "deadline"}
c.KubernetesJobBackend.gpu_resource = "nvidia.com/gpu"
c.KubernetesJobBackend.profiles = {
    "gpu-a100": {
        "node_selector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    },
}
# Ranks report progress, metrics, logs and outputs here (the server may be culled meanwhile).
c.KubernetesJobBackend.storage_url = "s3://ml-jobs/labrig"  # adapt
c.KubernetesJobBackend.rank_storage_options = {}  # e.g. {"client_kwargs": {"endpoint_url": ...}}
c.KubernetesJobBackend.storage_env = [
    {"name": name, "valueFrom": {"secretKeyRef": {"name": "labrig-s3", "key": key}}}
    for name, key in (("AWS_ACCESS_KEY_ID", "access-key"), ("AWS_SECRET_ACCESS_KEY", "secret-key"))
]
c.KubernetesJobBackend.labels = {"team": "vision"}

# Datasets: each pinned version is a Fluid Dataset + AlluxioRuntime in namespace ml (the jobs'
# namespace by default), warmed by a DataLoad; job (and kernel) pods mount Fluid's PVC of the
# version read-only at the same path as locally. Needs Fluid (https://fluid-cloudnative.github.io)
# and the labrig-datasets Role of rbac.yaml. No data_pvc is needed for datasets then.
c.LabrigApp.dataset_cache_class = "labrig.k8s.fluid.FluidDatasetCache"
c.FluidDatasetCache.mode = "fluid"  # or "pvc" (storage_class) or "existing_pvc" (claims)
c.FluidDatasetCache.runtime_kind = "alluxio"  # or "juicefs", "thin" (with thin_profile)
c.FluidDatasetCache.replicas = 2
c.FluidDatasetCache.cache_medium = "SSD"
c.FluidDatasetCache.cache_path = "/mnt/nvme/fluid"  # adapt: a fast disk of the worker nodes
c.FluidDatasetCache.cache_quota = "200Gi"
# The runtime reads the source with these credentials, by Secret reference (never inline):
# kubectl -n ml create secret generic labrig-datasets-s3 --from-literal=access-key=... \
#   --from-literal=secret-key=...
c.FluidDatasetCache.credentials_secrets = {"*": "labrig-datasets-s3"}
c.FluidDatasetCache.credentials_keys = {"key": "access-key", "secret": "secret-key"}
c.FluidDatasetCache.ready_timeout = 600.0
# Kernels: each notebook's kernel in a pod with the notebook's requests and limits (CPU, memory,
# GPUs, ephemeral storage for its scratch disk). Settings both backends share (namespace,
# service account, pull secrets, placement per profile, labels, the data PVC) may go under
# c.KubernetesPodSettings instead of each backend's section.
c.LabrigApp.kernel_backend = "labrig.k8s.kernel_backend.KubernetesKernelBackend"
c.KubernetesKernelBackend.namespace = "ml"
c.KubernetesKernelBackend.image = "registry.example.com/ml/labrig-kernel:0.1"  # Dockerfile
c.KubernetesKernelBackend.image_pull_secrets = ["registry-credentials"]
c.KubernetesKernelBackend.service_account = "labrig-kernel"
c.KubernetesKernelBackend.gpu_resource = "nvidia.com/gpu"
c.KubernetesKernelBackend.profiles = c.KubernetesJobBackend.profiles
# Datasets mounted for a notebook appear at the same paths in its kernel's pod from this PVC
# (labrig's data directory); without it a kernel that mounts datasets is refused, saying so.
c.KubernetesKernelBackend.data_pvc = "labrig-data"  # adapt
# A pod still waiting (no node fits, image pull, quota) after this is given up and deleted.
c.KubernetesKernelBackend.start_timeout = 300.0
# Notebooks in kernel pods reach labrig (import labrig, the labrig CLI) through the server's
# REST API at this URL, each kernel with a token of its own in a per-pod Secret; they never get
# the database URL. Unset: kernel pods cannot reach labrig (the server log says so).
c.LabrigApp.kernel_server_url = "http://jupyter.ml.svc:8888/"  # adapt: the server's Service
# The kernel pods send their connection info to the server here (gateway_provisioners'
# response address; the server pod's IP by default): GP_RESPONSE_IP / GP_RESPONSE_PORT (8877).

# Many users on one deployment (docs/admin-guide.md#many-users-on-one-deployment): who
# administers labrig, who may move model aliases and delete, and which environment variables
# users' datasets may name for their credentials (none by default).
c.LabrigApp.admin_users = ["platform-admin"]  # adapt
c.LabrigApp.model_alias_policy = "owner"
c.LabrigApp.model_delete_policy = "owner"
c.DatasetCache.allowed_credentials_env = ["DATASETS_S3_*"]  # adapt
