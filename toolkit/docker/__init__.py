"""Real Docker hosts: find a daemon's pieces, read its control plane (classic store or
NetworkDB) and its overlay namespaces, judge them with ovlab's doctor, import them as a lab."""
