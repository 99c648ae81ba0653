"""Crash-safe in-place updates of an HDF5 file: an undo journal under h5py's file-object driver.

HDF5 appends new objects at the end of a file but also rewrites a few existing bytes
(the superblock, the parent group's link index, attributes). A process killed in the
middle of that leaves a file HDF5 may no longer open. `JournaledFile` makes every update
atomic: before any byte of the committed file (offsets below its length at open) is
overwritten, its old contents are appended to `<path>.journal` and flushed; `commit()`
syncs the file and deletes the journal. If the process dies first, `recover(path)`
(called by every reader and writer before opening) writes the old bytes back in reverse
order and truncates the file to its committed length: the file is exactly as it was
after the last commit.

Guarantee: SIGKILL-safe (the journal is flushed to the OS before each overwrite). It is
not power-loss-safe: journal entries are not fsynced one by one.

A writer holds an exclusive `flock` on the journal while it works, so a reader never
rolls back a live writer's update; it gets a one-line error instead.
"""
from __future__ import annotations

import fcntl
import io
import os
import struct
from pathlib import Path

from egogym.data.schema import DataFormatError

MAGIC = b"EGOJRNL1"
_HEADER = struct.Struct("<8sQ")  # magic, committed length
_ENTRY = struct.Struct("<QQ")  # offset, length (followed by the old bytes)


def journal_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + ".journal")


class JournaledFile(io.RawIOBase):
    """A binary file object for `h5py.File(obj, "r+")` whose overwrites can be undone.

    path: an existing file (possibly empty). Use `commit()` after closing the h5py file;
    `abort()` rolls back at once (e.g. after an exception while writing).
    """

    def __init__(self, path: str | os.PathLike):
        super().__init__()
        self.path = Path(path)
        recover(self.path)
        self._jpath = journal_path(self.path)
        self._j = open(self._jpath, "xb")
        try:
            fcntl.flock(self._j.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._j.close()
            raise DataFormatError(f"{self.path}: another process is writing this file; wait for it to finish") from None
        self._f = open(self.path, "r+b")
        self.committed_length = os.fstat(self._f.fileno()).st_size
        self._j.write(_HEADER.pack(MAGIC, self.committed_length))
        self._j.flush()
        os.fsync(self._j.fileno())  # the journal's existence must outlive us

    # ---- the file-object interface h5py uses ----
    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def readinto(self, b) -> int:
        return self._f.readinto(b)

    def read(self, size: int = -1) -> bytes:
        return self._f.read(size)

    def _save(self, start: int, end: int) -> None:
        """Journal the committed bytes [start, end) before they are overwritten."""
        end = min(end, self.committed_length)
        if start >= end:
            return
        pos = self._f.tell()
        self._f.seek(start)
        old = self._f.read(end - start)
        self._f.seek(pos)
        self._j.write(_ENTRY.pack(start, len(old)) + old)
        self._j.flush()

    def write(self, b) -> int:
        b = memoryview(b)
        off = self._f.tell()
        self._save(off, off + len(b))
        return self._f.write(b)

    def truncate(self, size: int | None = None) -> int:
        size = self._f.tell() if size is None else size
        self._save(size, self.committed_length)
        return self._f.truncate(size)

    def flush(self) -> None:
        if not self._f.closed:
            self._f.flush()

    # ---- ending an update ----
    def commit(self) -> None:
        """Make the current contents the committed state (after h5py has closed the file)."""
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.unlink(self._jpath)
        self._j.close()  # releases the lock
        super().close()

    def abort(self) -> None:
        """Undo every change since opening."""
        self._f.close()
        self._j.close()
        recover(self.path)
        super().close()

    def close(self) -> None:  # h5py may call close(); the update ends with commit/abort
        if not self._f.closed:
            self._f.flush()


def recover(path: str | os.PathLike) -> bool:
    """Roll back an interrupted update of `path`, if its journal says there was one.

    Returns True when something was rolled back. Raises DataFormatError when a live
    process holds the journal (an update in progress)."""
    path = Path(path)
    jpath = journal_path(path)
    if not jpath.exists():
        return False
    with open(jpath, "rb") as j:
        try:
            fcntl.flock(j.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise DataFormatError(f"{path}: another process is writing this file; wait for it to finish") from None
        raw = j.read()
    if len(raw) < _HEADER.size or raw[:8] != MAGIC:
        # Killed before the header reached the OS: no byte of the file was touched yet.
        jpath.unlink()
        return True
    _, length = _HEADER.unpack_from(raw, 0)
    entries = []
    pos = _HEADER.size
    while pos + _ENTRY.size <= len(raw):
        off, n = _ENTRY.unpack_from(raw, pos)
        if pos + _ENTRY.size + n > len(raw):
            break  # a torn last entry: its overwrite never happened (entries are flushed first)
        entries.append((off, raw[pos + _ENTRY.size: pos + _ENTRY.size + n]))
        pos += _ENTRY.size + n
    if path.exists():
        with open(path, "r+b") as f:
            for off, old in reversed(entries):
                f.seek(off)
                f.write(old)
            f.truncate(length)
            f.flush()
            os.fsync(f.fileno())
    jpath.unlink()
    return True
