"""Environment variables of a job's rank on a cluster, in a module with no imports: the Python
API reads them at every registration, and importing ``jobs.remote`` for a name would cost every
``labrig.models.register`` the job runtime's imports."""

#: Where a rank finds its job folder on shared storage (and stages registrations).
STORE_ENV = "LABRIG_JOB_STORE"
STORE_OPTIONS_ENV = "LABRIG_JOB_STORE_OPTIONS"

#: Where a kernel or a rank reaches the Jupyter server's API, and the token it does so with
#: (``labrig.tokens``): what they get instead of the database URL.
SERVER_URL_ENV = "LABRIG_SERVER_URL"
API_TOKEN_ENV = "LABRIG_API_TOKEN"
