"""file_lock.py through both of its branches, each process against another (a lock never conflicts
within one process): POSIX flock, and the Windows byte-range scheme run on this machine's own
byte-range locks (lockf(3) locks ranges of a file exclusively per process, as msvcrt.locking does
on Windows)."""

import fcntl
import os
import subprocess
import sys

import pytest

from blendercnn_addon import file_lock

REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class ByteRangeMsvcrt:
    """msvcrt's locking(fd, mode, nbytes) — exclusive locks on nbytes from the file's position, an
    OSError when another process holds any of them — on this machine's byte-range locks."""

    LK_UNLCK, LK_NBLCK = 0, 2

    @staticmethod
    def locking(fd: int, mode: int, nbytes: int) -> None:
        start = os.lseek(fd, 0, os.SEEK_CUR)
        operation = fcntl.LOCK_UN if mode == ByteRangeMsvcrt.LK_UNLCK else fcntl.LOCK_EX | fcntl.LOCK_NB
        fcntl.lockf(fd, operation, nbytes, start, os.SEEK_SET)


BRANCHES = {"posix": lambda: file_lock.PosixLocks(fcntl), "windows": lambda: file_lock.WindowsLocks(ByteRangeMsvcrt)}

HOLDER = """
import sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from test_file_lock import BRANCHES
from blendercnn_addon import file_lock
lock = file_lock.FileLock(sys.argv[3], sys.argv[4], BRANCHES[sys.argv[5]]())
print("held", flush=True)
sys.stdin.read()  # until the test closes our input
lock.release()
"""


def hold(path, mode: str, branch: str) -> subprocess.Popen:
    """Another process holding ``path``'s lock in ``mode`` until its input closes."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, REPOSITORY, os.path.dirname(__file__), str(path), mode,
                                branch], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def can_take(path, mode: str, branch: str) -> bool:
    try:
        file_lock.FileLock(str(path), mode, BRANCHES[branch]()).release()
    except file_lock.LockHeld:
        return False
    return True


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_exclusive_excludes_everyone_and_shared_excludes_only_exclusive(tmp_path, branch):
    path = tmp_path / "writer.lock"
    assert can_take(path, file_lock.EXCLUSIVE, branch) and can_take(path, file_lock.SHARED, branch)
    holder = hold(path, file_lock.EXCLUSIVE, branch)
    assert not can_take(path, file_lock.EXCLUSIVE, branch) and not can_take(path, file_lock.SHARED, branch)
    assert file_lock.is_held(str(path), BRANCHES[branch]())
    holder.communicate("")
    assert can_take(path, file_lock.EXCLUSIVE, branch), "released when the holder ends"
    sharers = [hold(path, file_lock.SHARED, branch) for _ in range(2)]  # two shards share the writer lock
    assert can_take(path, file_lock.SHARED, branch) and not can_take(path, file_lock.EXCLUSIVE, branch)
    assert not file_lock.is_held(str(path), BRANCHES[branch]())
    for sharer in sharers:
        sharer.communicate("")
    assert can_take(path, file_lock.EXCLUSIVE, branch)


@pytest.mark.parametrize("branch", sorted(BRANCHES))
def test_a_killed_holder_leaves_no_stale_lock(tmp_path, branch):
    path = tmp_path / "run.lock"
    holder = hold(path, file_lock.EXCLUSIVE, branch)
    holder.kill()
    holder.wait()
    assert can_take(path, file_lock.EXCLUSIVE, branch)


def test_this_platform_uses_its_own_branch():
    assert isinstance(file_lock.LOCKS, file_lock.WindowsLocks if os.name == "nt" else file_lock.PosixLocks)
