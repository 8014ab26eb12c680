"""Data shipped with ovlab: playbooks, roles, plugins, labs, walkthroughs (toolkit.resources)."""
