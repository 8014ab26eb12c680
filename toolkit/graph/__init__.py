"""``ovlab lab graph``: a lab's VMs, underlay, VTEPs, overlays and containers as a picture.

``model`` collects records; ``dot`` and ``mermaid`` write text; ``image`` runs
Graphviz for SVG/PNG. Nothing here prints.
"""
