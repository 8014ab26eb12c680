"""Write new secrets to files that do not exist yet (mode 0600), for the consul role.

Usage: new_secret.py PATH key|uuid [PATH key|uuid …]
  key  - a gossip encryption key: base64 of 32 random bytes, as `consul keygen` prints
  uuid - a random UUID, usable as an ACL token's SecretID
A file that exists already is left alone; the path of each file written is printed
(one per line), so the task knows whether anything changed. Several secrets in one
call: one process on the controller instead of one per secret.
Runs on the controller, so no consul binary is needed there.
"""

import base64
import os
import sys
import uuid

args = sys.argv[1:]
if not args or len(args) % 2:
    sys.exit("usage: new_secret.py PATH key|uuid [PATH key|uuid …]")
for path, kind in zip(args[::2], args[1::2], strict=True):
    if kind not in ("key", "uuid"):
        sys.exit(f"new_secret.py: unknown kind {kind!r} (key or uuid)")
    value = base64.b64encode(os.urandom(32)).decode() if kind == "key" else str(uuid.uuid4())
    # The directory task may have been skipped (a run limited by tags): make it 0700 here.
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    # O_EXCL: never overwrite a secret an earlier run (or a parallel one) wrote.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        continue
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    print(path)
