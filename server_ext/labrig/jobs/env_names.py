"""Environment variables of a job's rank on a cluster, in a module with no imports: the Python
API reads them at every registration, and importing ``jobs.remote`` for a name would cost every
``labrig.models.register`` the job runtime's imports."""

#: Where a rank finds its job folder on shared storage (and stages registrations).
STORE_ENV = "LABRIG_JOB_STORE"
STORE_OPTIONS_ENV = "LABRIG_JOB_STORE_OPTIONS"

#: The Jupyter server's URL (with its base_url, ending in ``/``) and a token scoped to one kernel
#: or one job: with both set, ``import labrig`` and the CLI work through the REST API.
SERVER_URL_ENV = "LABRIG_SERVER_URL"
API_TOKEN_ENV = "LABRIG_API_TOKEN"
