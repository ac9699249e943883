"""Count the instructions of one Python call under valgrind's callgrind, from pure Python.

Valgrind recognises a "client request": a fixed no-op instruction sequence with a pointer to the request's
arguments in %rax.  We write that sequence into an executable page and call it through ctypes, so no
compiler and no valgrind headers are needed in the image.  Outside valgrind the sequence does nothing
and every request returns its default value (running_on_valgrind() == 0).

Use (the harness runs the program under
`valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no` with PYTHONHASHSEED=0):

    from vgcount import count_call
    result = count_call("solution", solve, data)

Each call writes a callgrind dump whose trigger is named by the label; the runner reports
{label: instructions}.  The count includes a constant measurement overhead of a few thousand instructions
(measure `count_call("noop", lambda: None)` on the same image to see it).  x86-64 only.
"""

from __future__ import annotations

import ctypes
import mmap
import platform

_TOOL_BASE_CT = (ord("C") << 24) | (ord("T") << 16)
DUMP_STATS = _TOOL_BASE_CT + 0
ZERO_STATS = _TOOL_BASE_CT + 1
TOGGLE_COLLECT = _TOOL_BASE_CT + 2
DUMP_STATS_AT = _TOOL_BASE_CT + 3
START_INSTRUMENTATION = _TOOL_BASE_CT + 4
STOP_INSTRUMENTATION = _TOOL_BASE_CT + 5
RUNNING_ON_VALGRIND = 0x1001

# uint64_t request(uint64_t *args /* rdi */, uint64_t default /* rsi */)
_CODE = bytes.fromhex(
    "4889f8"      # mov rax, rdi        ; rax -> the argument block
    "4889f2"      # mov rdx, rsi        ; rdx = default result
    "48c1c703"    # rol rdi, 3          ; the special-instruction preamble (rotates by 128 in total,
    "48c1c70d"    # rol rdi, 13         ;  so rdi ends unchanged)
    "48c1c73d"    # rol rdi, 61
    "48c1c733"    # rol rdi, 51
    "4887db"      # xchg rbx, rbx       ; "do the client request in rax, result in rdx"
    "4889d0"      # mov rax, rdx
    "c3"          # ret
)

_page = None
_fn = None


def _request_fn():
    global _page, _fn
    if _fn is None:
        if platform.machine() not in ("x86_64", "AMD64"):
            raise RuntimeError("vgcount: client requests are only implemented for x86-64")
        _page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
        _page.write(_CODE)
        addr = ctypes.addressof(ctypes.c_char.from_buffer(_page))
        _fn = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)(addr)
    return _fn


def client_request(code: int, *args: int, default: int = 0) -> int:
    block = (ctypes.c_uint64 * 6)(code, *(list(args) + [0] * (5 - len(args))))
    return _request_fn()(ctypes.addressof(block), default)


def running_on_valgrind() -> int:
    return client_request(RUNNING_ON_VALGRIND)


_started = False


def count_call(label: str, fn, *args, **kwargs):
    """Call fn(*args, **kwargs) with callgrind collecting only during the call; dump the count as `label`."""
    global _started
    if not _started:
        client_request(START_INSTRUMENTATION)
        _started = True
    name = ctypes.create_string_buffer(label.encode("utf-8"))
    client_request(ZERO_STATS)
    client_request(TOGGLE_COLLECT)
    try:
        return fn(*args, **kwargs)
    finally:
        client_request(TOGGLE_COLLECT)
        client_request(DUMP_STATS_AT, ctypes.addressof(name))
