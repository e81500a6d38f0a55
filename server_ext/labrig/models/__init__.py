"""The model registry: registered models, their versions, aliases and files."""
