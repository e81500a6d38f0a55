"""labrig on Kubernetes: jobs as Kubeflow PyTorchJobs queued by Kueue, state in PostgreSQL, models
and job reports on S3. The Jupyter server runs in a pod of namespace ``ml`` with the service
account of ``rbac.yaml``; ``kueue.yaml`` creates the queue. Adapt the names marked below.
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
