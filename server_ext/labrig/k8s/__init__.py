"""labrig on Kubernetes: the API client and its errors, manifest builders, watches, and the
Kubernetes job backend (``labrig.k8s.jobs.KubernetesJobBackend``)."""
