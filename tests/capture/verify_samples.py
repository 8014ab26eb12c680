"""The two endpoints and the plan the verify unit tests judge and explain against."""

from __future__ import annotations

from toolkit.capture.verdict import End
from toolkit.capture.verify_plan import Plan
from toolkit.capture.vxlan import KNOWN_PORTS

A = End("c1", "svc1", "10.0.0.2", "02:42:0a:00:00:02", "vm1", "192.168.100.23")
B = End("c2", "svc2", "10.0.0.3", "02:42:0a:00:00:03", "vm2", "192.168.100.24")
PLAN = Plan("lab", "dev", 256, "1-f0c4a767d6", A, B, "svc2", 4789, KNOWN_PORTS | {4789})
