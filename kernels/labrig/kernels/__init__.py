"""Kernel provisioners that start notebook kernels with labrig's resources and settings."""
