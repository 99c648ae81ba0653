"""Output safety, in one place: no command writes over one of its inputs, or over an existing
file it did not create unless its own resume / overwrite flag says so, and files appear
under their final name only when complete (written to a temporary name, then renamed).

    check_output(args.out, inputs=[args.file], flag="--out")   # before any work
    with atomic_path(args.out) as tmp:                         # the writing
        write(tmp)
"""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Callable, Iterable, Iterator

from egogym.core.errors import UserError


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_resolves(path: Path, flag: str) -> None:
    """UserError naming `flag` when `path` (or a folder above it) is a symbolic link that loops
    or is too deeply nested: every later exists / mkdir / open would raise OSError ELOOP."""
    try:
        path.resolve(strict=False)
        os.stat(path)
    except FileNotFoundError:
        pass  # a new output: fine, as long as its folders resolve (checked above by resolve)
    except RuntimeError:  # Python 3.11's resolve() on a loop
        raise UserError(f"{flag} {path}: a symbolic link in this path loops; fix or remove the link, "
                        f"or choose another {flag}") from None
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENAMETOOLONG):
            raise UserError(f"{flag} {path}: a symbolic link in this path loops; fix or remove the link, "
                            f"or choose another {flag}") from None
        if e.errno != errno.ENOTDIR:
            raise UserError(f"{flag} {path}: {e.strerror}; choose another {flag}") from None


def check_output(path: str | Path, inputs: Iterable[str | Path] = (), *, flag: str = "--out",
                 kind: str = "file", existing_ok: bool = False, suffixes: tuple[str, ...] = ()) -> Path:
    """Refuse, with one line naming `flag`, an output path that is one of `inputs` (or inside one,
    for a folder), an existing file (unless `existing_ok`: the command's resume / overwrite),
    a file where a folder is wanted or the reverse, a wrong suffix, a path through a looping
    symbolic link, or a place that cannot be written (for an existing file or folder that is
    resumed: the file or folder itself). kind: "file" or "dir". Returns the path."""
    path = Path(path)
    _check_resolves(path, flag)
    for inp in inputs:
        inp = Path(inp)
        if _same(path, inp) or path.resolve() == inp.resolve():
            raise UserError(f"{flag} {path} is also an input of this command; write the output elsewhere")
    if suffixes and path.suffix.lower() not in suffixes:
        raise UserError(f"{flag} {path}: give a {' or '.join(suffixes)} file")
    if kind == "file":
        if path.is_dir():
            raise UserError(f"{flag} {path} is a folder; give a file name")
        if path.exists() and not existing_ok:
            raise UserError(f"{flag} {path} exists; choose another name or delete it")
    else:
        if path.exists() and not path.is_dir():
            raise UserError(f"{flag} {path} is a file; give a folder")
    if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
        # an existing output is appended to (resume): it must be writable itself, checked before any
        # journal or temporary file is created next to it
        raise UserError(f"{flag} {path} is not writable; fix its permissions or choose another {flag}")
    parent = path if kind == "dir" and path.is_dir() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"{flag} {path}: {parent} is not writable; choose a folder you can write to")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to `path` to write to (a file, or a folder the block creates); renamed
    to `path` when the block ends without an error, removed when it fails (nothing half-written
    under the final name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` to `path` through a temporary file and a rename: a reader (or a killed
    writer) never sees half a file under the final name."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


@contextlib.contextmanager
def removed_if_failed(path: str | Path, keep: Callable[[], bool], also: Iterable[str | Path] = ()) -> Iterator[None]:
    """Remove `path` (and `also`: its companions, e.g. a journal) when the block fails, if the
    block's command created it (it did not exist on entry) and `keep()` is False (nothing worth
    keeping was finished): a failed first run then leaves nothing that blocks the corrected rerun
    ("exists: pass --resume"). A file that held finished work is kept for `--resume`."""
    path = Path(path)
    created = not os.path.lexists(path)
    try:
        yield
    except BaseException:
        if created and not keep():
            for p in (path, *(Path(a) for a in also)):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        p.unlink()
        raise
