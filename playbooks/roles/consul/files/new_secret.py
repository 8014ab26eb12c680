"""Write a new secret to a file that must not exist yet (mode 0600), for the consul role.

Usage: new_secret.py PATH key|uuid
  key  - a gossip encryption key: base64 of 32 random bytes, as `consul keygen` prints
  uuid - a random UUID, usable as an ACL token's SecretID
Runs on the controller, so no consul binary is needed there.
"""

import base64
import os
import sys
import uuid

path, kind = sys.argv[1], sys.argv[2]
value = base64.b64encode(os.urandom(32)).decode() if kind == "key" else str(uuid.uuid4())
# O_EXCL: never overwrite a secret an earlier run (or a parallel one) wrote.
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
with os.fdopen(fd, "w") as fh:
    fh.write(value + "\n")
