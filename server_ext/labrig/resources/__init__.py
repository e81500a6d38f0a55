"""Kernel resources: requests per notebook and the backends that enforce them."""
