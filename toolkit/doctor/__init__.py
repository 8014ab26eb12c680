"""``ovlab doctor``: check a lab's control plane, agents, kernel tables and wire; report findings.

Checks are small modules, each a function from a collected ``LabView`` to a list
of ``Finding`` records. Nothing here prints.
"""
