"""Host primitives: namespaces, mounts, /proc and well-known paths.

This layer imports nothing from the toolkit except :mod:`toolkit.errors`, so every
other package may use it and it can be tested without a lab.
"""
