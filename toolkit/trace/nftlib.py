"""A namespace's nftables ruleset as JSON, read in-process through libnftables (ctypes).

The same listing as ``nft -j list ruleset`` (libnftables is nft's own library:
nft_run_cmd_from_buffer with NFT_CTX_OUTPUT_JSON), without forking nsenter and nft per
VM: the netlink socket libnftables opens is made after setns() into the namespace, so
it lists that namespace's ruleset. Falls back to the nft command
(``toolkit.doctor.nft.ruleset``) when the library is missing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
from typing import Any

NFT_CTX_OUTPUT_JSON = 1 << 4  # include/nftables/libnftables.h

_lib: Any = None


def _load() -> Any:
    global _lib
    if _lib is None:
        name = ctypes.util.find_library("nftables") or "libnftables.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            _lib = False
            return _lib
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        _lib = lib
    return _lib


def ruleset(ns_path: str, pid: int) -> list[dict[str, Any]] | None:
    """The ruleset of the namespace at ``ns_path`` as nft's JSON objects; None when it
    cannot be read. ``pid`` (a process in it) is for the nft-command fallback."""
    lib = _load()
    if not lib:
        from toolkit.doctor.nft import ruleset as by_command

        return by_command(pid)
    from toolkit.host.ns import inside

    try:
        fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        with inside(fd):
            ctx = lib.nft_ctx_new(0)
            if not ctx:
                return None
            try:
                lib.nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON)
                lib.nft_ctx_buffer_output(ctx)
                lib.nft_ctx_buffer_error(ctx)
                if lib.nft_run_cmd_from_buffer(ctx, b"list ruleset") != 0:
                    return None
                out = lib.nft_ctx_get_output_buffer(ctx) or b"{}"
            finally:
                lib.nft_ctx_free(ctx)
    finally:
        os.close(fd)
    try:
        return list(json.loads(out or b"{}").get("nftables", []))
    except ValueError:
        return None
