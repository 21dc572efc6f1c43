"""Point pyright's typeshed at micropython-stdlib-stubs: build/typeshed/stdlib is a link to
the `stdlib` folder that package installs (wherever the venv's site-packages is)."""

import os
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
site = sysconfig.get_paths()["purelib"]
src = os.path.join(site, "stdlib")
if not os.path.isdir(src):
    raise SystemExit("micropython-stdlib-stubs is not installed: run `make venv`")
dst_dir = os.path.join(ROOT, "build", "typeshed")
os.makedirs(dst_dir, exist_ok=True)
dst = os.path.join(dst_dir, "stdlib")
if os.path.islink(dst) or os.path.exists(dst):
    os.remove(dst)
os.symlink(src, dst)
