"""Build the virtual Pico's interpreter: MicroPython v1.28.0's unix port with the RP2040's
number model (32-bit objects, 31-bit small ints, single-precision floats) and asyncio
frozen as on the board. Built once into a cache and linked into the venv as
`.venv/bin/micropython`; `make venv` runs this.

Source, in this order (each checked by SHA-256):
  1. $FOCUSRIG_MPY_SRC, or ../shared/micropython/micropython-1.28.0-unix-src.tar.gz
     (the source trimmed to the unix port; what an offline machine has);
  2. the official release tarball, downloaded once into the cache:
     https://micropython.org/resources/source/micropython-1.28.0.tar.xz

Cache: $FOCUSRIG_CACHE or ~/.cache/focusrig, one folder per build recipe (the recipe's
hash is in the folder name, so changing this file or the project's C module rebuilds).

Usage: python tools/build_micropython.py [--link DIR] [--print-path]
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = "1.28.0"
SOURCES = {
    # trimmed unix-port source (shared/micropython/README.md)
    "micropython-1.28.0-unix-src.tar.gz":
        "2f6bce77338dbbfbc740683e902728a5790456152cb7bb577ce8a29550e1720a",
}
OFFICIAL_URL = "https://micropython.org/resources/source/micropython-1.28.0.tar.xz"
# SHA-256 of the official release tarball; set FOCUSRIG_MPY_TARBALL_SHA256 to override
OFFICIAL_SHA256 = os.environ.get("FOCUSRIG_MPY_TARBALL_SHA256", "")
MANIFEST = 'include("$(MPY_DIR)/extmod/asyncio")\n'       # frozen, as on the rp2 port
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "micropython")
CMOD = os.path.join(ROOT, "host_tools", "focusrig", "virtual_pico", "cmod")

# The RP2040's number model and the board's frozen asyncio (ports/rp2/mpconfigport.h sets
# MICROPY_FLOAT_IMPL_FLOAT; its objects are 32-bit). FFI, btree and ssl are not on a Pico
# and need 32-bit libraries Debian's gcc-multilib does not bring.
MAKE_ARGS = [
    "BUILD=build-rp2", "MICROPY_FORCE_32BIT=1", "MICROPY_PY_FFI=0", "MICROPY_PY_BTREE=0",
    "MICROPY_PY_SSL=0",
    # rp2's 1-byte qstr hashes (ports/rp2/mpconfigport.h:99; the unix port takes 2): a map
    # puts a key at hash % size, so its slots and probe chains are then a Pico's
    "CFLAGS_EXTRA=-DMICROPY_FLOAT_IMPL=MICROPY_FLOAT_IMPL_FLOAT -DMICROPY_QSTR_BYTES_IN_HASH=1",
]


# Our hooks into the v1.28.0 source, applied to the unpacked copy before building: a few
# lines each, every one calling into our C module (virtual_pico/cmod/vphook). Each entry:
# (file, text that must be there exactly once, replacement).
PATCHES = [
    # the CPU model: charge every bytecode (vm.c's TRACE(ip) is empty in a normal build)
    ("py/vm.c", "#else\n#define TRACE(ip)\n#endif",
     '#else\n#include "vphook.h"\n#define TRACE(ip) focusrig_vm_tick((ip), (void **)sp, code_state)\n#endif'),
    # the USB CDC model owns sys.stdin/stdout/stderr (fds 0..2) while installed
    ("extmod/vfs_posix_file.c", '#include "py/runtime.h"',
     '#include "py/runtime.h"\n#include "vphook.h"'),
    ("extmod/vfs_posix_file.c",
     "static mp_uint_t vfs_posix_file_read(mp_obj_t o_in, void *buf, mp_uint_t size, int *errcode) {\n"
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n    check_fd_is_open(o);\n",
     "static mp_uint_t vfs_posix_file_read(mp_obj_t o_in, void *buf, mp_uint_t size, int *errcode) {\n"
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n    check_fd_is_open(o);\n"
     "    if (o->fd <= 2 && focusrig_stdio_active) {\n"
     "        return focusrig_stdio_read(buf, size, errcode);\n    }\n"),
    ("extmod/vfs_posix_file.c",
     "static mp_uint_t vfs_posix_file_write(mp_obj_t o_in, const void *buf, mp_uint_t size, int *errcode) {\n"
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n    check_fd_is_open(o);\n",
     "static mp_uint_t vfs_posix_file_write(mp_obj_t o_in, const void *buf, mp_uint_t size, int *errcode) {\n"
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n    check_fd_is_open(o);\n"
     "    if (o->fd <= 2 && focusrig_stdio_active) {\n"
     "        return focusrig_stdio_write(buf, size, errcode);\n    }\n"),
    ("extmod/vfs_posix_file.c",
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n\n    switch (request) {\n",
     "    mp_obj_vfs_posix_file_t *o = MP_OBJ_TO_PTR(o_in);\n"
     "    if (request == MP_STREAM_POLL && o->fd <= 2 && focusrig_stdio_active) {\n"
     "        return focusrig_stdio_poll(arg);\n    }\n\n    switch (request) {\n"),
    # the CPU model charges what the firmware's heap costs on an RP2040: every allocation
    # (a float, a tuple, a string) and every collection (marking its live heap)
    ("py/gc.c", '#include "py/runtime.h"', '#include "py/runtime.h"\n#include "vphook.h"'),
    ("py/gc.c",
     "    DEBUG_printf(\"gc_alloc(\" UINT_FMT \" bytes -> \" UINT_FMT \" blocks)\\n\", n_bytes, n_blocks);\n",
     "    DEBUG_printf(\"gc_alloc(\" UINT_FMT \" bytes -> \" UINT_FMT \" blocks)\\n\", n_bytes, n_blocks);\n"
     "    focusrig_alloc_tick(n_blocks);\n"),
    ("py/gc.c",
     "    if (MP_STATE_THREAD(gc_lock_depth) & ~GC_COLLECT_FLAG) {\n        return;\n    }\n\n    GC_ENTER();\n",
     "    if (MP_STATE_THREAD(gc_lock_depth) & ~GC_COLLECT_FLAG) {\n        return;\n    }\n"
     "    if (ptr != NULL) {\n        focusrig_free_tick(ptr, gc_nbytes(ptr));\n    }\n\n    GC_ENTER();\n"),
    ("py/gc.c", "    gc_dump_alloc_table(&mp_plat_print);\n    #endif\n\n    return ret_ptr;\n}\n",
     "    gc_dump_alloc_table(&mp_plat_print);\n    #endif\n\n    focusrig_alloc_done(ret_ptr);\n"
     "    return ret_ptr;\n}\n"),
    ("py/gc.c", "void gc_collect_start(void) {\n    gc_collect_start_common();\n",
     "void gc_collect_start(void) {\n    focusrig_gc_start();\n    gc_collect_start_common();\n"),
    ("py/gc.c", "    #if MICROPY_PY_WEAKREF\n    gc_weakref_sweep();\n    #endif\n}\n",
     "    #if MICROPY_PY_WEAKREF\n    gc_weakref_sweep();\n    #endif\n    focusrig_gc_done();\n}\n"),
    ("py/modgc.c", "static mp_obj_t py_gc_collect(void) {\n    gc_collect();\n",
     '#include "vphook.h"\nstatic mp_obj_t py_gc_collect(void) {\n    focusrig_gc_explicit();\n    gc_collect();\n'),
    # a call's frame (heap-allocated when large) belongs to the function called: a call
    # into the board model's Python is a call into C or silicon on a Pico
    ("py/objfun.c", '#include "py/bc.h"', '#include "py/bc.h"\n#include "vphook.h"'),
    ("py/objfun.c",
     "    mp_obj_fun_bc_t *self = MP_OBJ_TO_PTR(self_in);\n\n    size_t n_state, state_size;\n"
     "    DECODE_CODESTATE_SIZE(self->bytecode, n_state, state_size);\n\n"
     "    // allocate state for locals and stack\n",
     "    mp_obj_fun_bc_t *self = MP_OBJ_TO_PTR(self_in);\n\n    size_t n_state, state_size;\n"
     "    DECODE_CODESTATE_SIZE(self->bytecode, n_state, state_size);\n"
     "    focusrig_enter_fun(self->context->module.globals, self, n_args + n_kw);\n\n"
     "    // allocate state for locals and stack\n"),
    # a str made from data looks for an equal qstr first: on a Pico that scans every qstr
    # the firmware's .mpy files added (unsorted pools), which the CPU model charges
    ("py/qstr.c", '#include "py/runtime.h"', '#include "py/runtime.h"\n#include "vphook.h"'),
    ("py/persistentcode.c", '#include "py/mpthread.h"', '#include "py/mpthread.h"\n#include "vphook.h"'),
    ("py/persistentcode.c", "static qstr load_qstr(mp_reader_t *reader) {\n",
     "static qstr load_qstr(mp_reader_t *reader) {\n    focusrig_qstr_loading();\n"),
    ("py/qstr.c", "                return pool->total_prev_len + at;\n",
     "                focusrig_qstr_find(pool->total_prev_len + at, str_len);\n"
     "                return pool->total_prev_len + at;\n"),
    ("py/qstr.c", "    // return id for the newly-added qstr\n    return MP_STATE_VM(last_pool)->total_prev_len + at;\n",
     "    // return id for the newly-added qstr\n"
     "    focusrig_qstr_added(MP_STATE_VM(last_pool)->total_prev_len + at);\n"
     "    return MP_STATE_VM(last_pool)->total_prev_len + at;\n"),
    ("py/qstr.c", "    qstr q = qstr_find_strn(str, len);\n    if (q == 0) {\n",
     "    qstr q = qstr_find_strn(str, len);\n    if (q != 0) {\n        focusrig_qstr_interned(q);\n    }\n"
     "    if (q == 0) {\n"),
    ("py/qstr.c", "    // not found; return null qstr\n    return MP_QSTRnull;\n",
     "    // not found; return null qstr\n    focusrig_qstr_find(MP_QSTRnull, str_len);\n    return MP_QSTRnull;\n"),
    # a map lookup's cost grows with the slots it probes (an instance with many attributes
    # makes every method call and class constant a long miss): counted for the CPU model
    ("py/map.c", '#include "py/runtime.h"', '#include "py/runtime.h"\n#include "vphook.h"'),
    # rp2's lookup cache keeps a key by its qstr number: the virtual Pico's, as on a Pico;
    # and the board model's own lookups (C on a Pico) keep a cache of their own
    ("py/map.c",
     "#define MAP_CACHE_ENTRY(index) (MP_STATE_VM(map_lookup_cache)[MAP_CACHE_OFFSET(index)])",
     "#define MAP_CACHE_ENTRY(index) (*focusrig_map_cache_entry((uintptr_t)(index)))"),
    # (a name's: an object's key hashes by its address, which differs from a Pico's and
    # from run to run with the board model's own allocations)
    ("py/map.c", "    size_t pos = hash % map->alloc;\n",
     "    size_t pos = hash % map->alloc;\n    focusrig_map_hashed += mp_obj_is_qstr(index);\n"),
    ("py/map.c", "        pos = (pos + 1) % map->alloc;\n",
     "        pos = (pos + 1) % map->alloc;\n        focusrig_map_probes += mp_obj_is_qstr(index);\n"),
    # a str made from data is the qstr of the same text if there is one; the virtual Pico
    # has names a Pico has not (the unix port's own, the board model's): not those
    ("py/objstr.c", '#include "py/runtime.h"', '#include "py/runtime.h"\n#include "vphook.h"'),
    ("py/objstr.c", "                qstr q = qstr_find_strn((const char *)str_data, str_len);\n",
     "                qstr q = focusrig_str_qstr(qstr_find_strn((const char *)str_data, str_len));\n"),
    ("py/objstr.c", "        qstr q = qstr_find_strn(vstr->buf, vstr->len);\n",
     "        qstr q = focusrig_str_qstr(qstr_find_strn(vstr->buf, vstr->len));\n"),
    ("py/objstr.c", "    qstr q = qstr_find_strn(data, len);\n    if (q != MP_QSTRnull) {\n        // qstr with this data already exists\n",
     "    qstr q = focusrig_str_qstr(qstr_find_strn(data, len));\n    if (q != MP_QSTRnull) {\n        // qstr with this data already exists\n"),
    # the heap where a Pico's SRAM is (0x20000000): objects get a Pico's addresses, so id()
    # is a small int as there (a 32-bit Linux heap above 2**30 made each id() a big int,
    # allocated: asyncio's IOQueue keys its map by id(stream))
    ("ports/unix/main.c", "#include <sys/types.h>\n", '#include <sys/types.h>\n#include "vphook.h"\n'),
    ("ports/unix/main.c", "    char *heap = malloc(heap_size);\n",
     "    char *heap = focusrig_heap_alloc(heap_size);\n"),
    ("ports/unix/main.c", "    free(heap);\n    #else\n", "    focusrig_heap_free(heap, heap_size);\n    #else\n"),
    # asyncio's C half (task keys: create_task, Event.set, cancel) reads the board's
    # virtual clock, not the host's: a Pico has one clock (the real one made the task order,
    # and so the virtual time a run took, differ from run to run)
    ("extmod/modasyncio.c", '#include "py/mphal.h"\n', '#include "py/mphal.h"\n#include "vphook.h"\n'),
    ("extmod/modasyncio.c",
     "    return MP_OBJ_NEW_SMALL_INT(mp_hal_ticks_ms() & (MICROPY_PY_TIME_TICKS_PERIOD - 1));\n",
     "    return MP_OBJ_NEW_SMALL_INT(focusrig_asyncio_ticks_ms() & (MICROPY_PY_TIME_TICKS_PERIOD - 1));\n"),
    # print() and tracebacks too
    ("ports/unix/unix_mphal.c", "mp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {\n",
     '#include "vphook.h"\nmp_uint_t mp_hal_stdout_tx_strn(const char *str, size_t len) {\n'
     "    if (focusrig_stdout_hook(str, len)) {\n        return len;\n    }\n"),
    # a Pico's USB serial keeps what the host sent when the REPL changes mode; the unix port
    # switches its terminal with TCSAFLUSH, dropping pending input (mpremote's "\r\x03\r\x01"
    # sent right after a Ctrl-B vanished): switch it with TCSADRAIN instead
    ("ports/unix/unix_mphal.c", "    termios.c_cc[VTIME] = 0;\n    tcsetattr(0, TCSAFLUSH, &termios);\n",
     "    termios.c_cc[VTIME] = 0;\n    tcsetattr(0, TCSADRAIN, &termios);\n"),
    ("ports/unix/unix_mphal.c", "    tcsetattr(0, TCSAFLUSH, &orig_termios);\n",
     "    tcsetattr(0, TCSADRAIN, &orig_termios);\n"),
    # select.poll asks every object through its stream ioctl (so stdio polls the model)
    ("ports/unix/variants/mpconfigvariant_common.h", "#define MICROPY_PY_SELECT_POSIX_OPTIMISATIONS (1)",
     "#define MICROPY_PY_SELECT_POSIX_OPTIMISATIONS (0)"),
]


def apply_patches(top):
    for rel, old, new in PATCHES:
        path = os.path.join(top, rel)
        with open(path) as f:
            text = f.read()
        if text.count(old) != 1:
            raise SystemExit("micropython: cannot apply focusrig's hook to %s (source not v%s?)" % (rel, VERSION))
        with open(path, "w") as f:
            f.write(text.replace(old, new))


def say(msg):
    print("micropython: " + msg, flush=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recipe_hash():
    """What the build depends on besides the source: the make arguments and our C module."""
    h = hashlib.sha256(repr((VERSION, MAKE_ARGS, MANIFEST, PATCHES)).encode())
    if os.path.isdir(CMOD):
        for d, _, names in sorted(os.walk(CMOD)):
            for n in sorted(names):
                with open(os.path.join(d, n), "rb") as f:
                    h.update(n.encode() + f.read())
    return h.hexdigest()[:12]


def cache_dir():
    base = os.environ.get("FOCUSRIG_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "focusrig")
    return os.path.join(base, "micropython-%s-rp2040num-%s" % (VERSION, recipe_hash()))


def find_source(cache):
    """A checked source tarball: the offline copy, else the official download."""
    cands = []
    if os.environ.get("FOCUSRIG_MPY_SRC"):
        cands.append(os.environ["FOCUSRIG_MPY_SRC"])
    cands.append(os.path.join(SHARED, "micropython-1.28.0-unix-src.tar.gz"))
    for path in cands:
        if os.path.exists(path):
            want = SOURCES.get(os.path.basename(path))
            got = sha256(path)
            if want and got != want:
                raise SystemExit("micropython: %s has SHA-256 %s, expected %s: the file is not "
                                 "the MicroPython %s source; delete or replace it" % (path, got, want, VERSION))
            return path
    dl = os.path.join(os.path.dirname(cache), "micropython-%s.tar.xz" % VERSION)
    if not os.path.exists(dl):
        say("downloading " + OFFICIAL_URL)
        tmp = dl + ".part"
        try:
            urllib.request.urlretrieve(OFFICIAL_URL, tmp)
        except OSError as e:
            raise SystemExit("micropython: no source here (%s) and the download failed (%s); "
                             "put the v%s source tarball there or set FOCUSRIG_MPY_SRC"
                             % (cands[-1], e, VERSION))
        os.replace(tmp, dl)
    got = sha256(dl)
    if OFFICIAL_SHA256 and got != OFFICIAL_SHA256:
        os.remove(dl)
        raise SystemExit("micropython: %s has SHA-256 %s, expected %s (download damaged?)"
                         % (dl, got, OFFICIAL_SHA256))
    if not OFFICIAL_SHA256:
        say("downloaded tarball SHA-256 %s (compare with micropython.org)" % got)
    return dl


def build(cache):
    src = find_source(cache)
    work = cache + ".build-%d" % os.getpid()
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    say("unpacking " + os.path.basename(src))
    with tarfile.open(src) as t:
        t.extractall(work, filter="data") if hasattr(tarfile, "data_filter") else t.extractall(work)
    top = os.path.join(work, next(n for n in os.listdir(work) if n.startswith("micropython")))
    manifest = os.path.join(work, "manifest.py")
    with open(manifest, "w") as f:
        f.write(MANIFEST)
    jobs = "-j%d" % max(1, min(4, os.cpu_count() or 1))
    log = os.path.join(work, "build.log")
    say("building mpy-cross and the unix port (float32, 32-bit objects; about a minute)")
    with open(log, "w") as lf:
        steps = [
            ["make", "-C", os.path.join(top, "mpy-cross"), jobs],
            ["make", "-C", os.path.join(top, "ports", "unix"), jobs, "FROZEN_MANIFEST=" + manifest]
            + MAKE_ARGS[:-1] + [MAKE_ARGS[-1] + " -I" + os.path.join(CMOD, "vphook"),
                                "USER_C_MODULES=" + CMOD],
        ]
        for i, cmd in enumerate(steps):
            if i == 1:
                apply_patches(top)          # after mpy-cross: the hooks are the board's only
            r = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT)
            if r.returncode:
                with open(log) as f:
                    tail = f.read().splitlines()[-15:]
                hint = ""
                if any("bits/" in t or "gnu/stubs-32" in t or "-m32" in t for t in tail):
                    hint = " (32-bit headers missing: apt-get install gcc-multilib)"
                raise SystemExit("micropython: build failed%s; log %s:\n%s" % (hint, log, "\n".join(tail)))
    os.makedirs(cache, exist_ok=True)
    shutil.copy2(os.path.join(top, "ports", "unix", "build-rp2", "micropython"),
                 os.path.join(cache, "micropython"))
    shutil.copy2(os.path.join(top, "mpy-cross", "build", "mpy-cross"), os.path.join(cache, "mpy-cross"))
    with open(os.path.join(cache, "SOURCE"), "w") as f:
        f.write("%s sha256=%s\n" % (src, sha256(src)))
    shutil.rmtree(work, ignore_errors=True)


def check(exe):
    # v1.28.0, float32 (1/3 prints 0.33333334), 32-bit objects: 2**30 - 1 is the largest
    # small int, so 2**30 needs the heap (it raises under heap_lock)
    probe = ("import sys, micropython\nn = 1 << 29\nm = big = 0\nmicropython.heap_lock()\ntry:\n m = n - 1 + n\n"
             " big = n + n\nexcept MemoryError:\n big = 1\nmicropython.heap_unlock()\n"
             "print(sys.implementation.version[:3], 1/3, m, big)")
    r = subprocess.run([exe, "-c", probe], capture_output=True, text=True)
    out = r.stdout.strip()
    if r.returncode or out != "(1, 28, 0) 0.33333334 1073741823 1":
        raise SystemExit("micropython: the built interpreter does not have the RP2040's number "
                         "model (%r); delete %s and run make again" % (out or r.stderr, os.path.dirname(exe)))
    return out


def main(argv):
    cache = cache_dir()
    exe = os.path.join(cache, "micropython")
    if not os.path.exists(exe):
        build(cache)
    check(exe)
    if "--print-path" in argv:
        print(exe)
    if "--link" in argv:
        d = argv[argv.index("--link") + 1]
        for name in ("micropython",):
            dst = os.path.join(d, name)
            if os.path.islink(dst) or os.path.exists(dst):
                os.remove(dst)
            os.symlink(os.path.join(cache, name), dst)
        say("%s -> %s" % (os.path.join(d, "micropython"), exe))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
