"""Reading a GitOps repository's history with the git client: a blob-less bare clone, a
streamed ``git log`` and blobs read on demand through one ``cat-file --batch`` process.

:class:`HistoryGit` extends :class:`pipekit.clients.git.Git` (same environment, masking,
credential handling); it only reads.
"""

from __future__ import annotations

import io
import subprocess
import tempfile
from collections.abc import Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from pipekit.clients.git import NO_HELPER, QUIET_CONFIG, Git, last_line
from pipekit.core import process
from pipekit.core.errors import ExternalError


def records(chunks: Iterable[bytes], sep: bytes) -> Iterator[bytes]:
    """The ``sep``-separated records of a stream of chunks, in linear time whatever their size.

    Each chunk is searched once (from just before its start, for a separator cut in half), and
    the unfinished tail is kept in one growing buffer: a 40 MB commit message arriving in 64 KB
    chunks costs what reading it costs, not a copy of the whole tail per chunk.
    """
    buf = bytearray()
    for chunk in chunks:
        start = max(0, len(buf) - len(sep) + 1)
        buf += chunk
        pos = 0
        while (found := buf.find(sep, start)) >= 0:
            yield bytes(buf[pos:found])
            pos = start = found + len(sep)
        if pos:
            del buf[:pos]
    if buf:
        yield bytes(buf)


class HistoryGit(Git):
    """git read commands over a (possibly bare, possibly partial) repository."""

    _batch: subprocess.Popen[bytes] | None = None

    @classmethod
    def clone_history(cls, url: str, dest: Path, *, branch: str, env: Mapping[str, str]) -> HistoryGit:
        """A bare, blob-less clone of ``branch``: every commit and tree; blobs only when read."""
        git = cls(dest, env)
        git.run(
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            "--single-branch",
            "--no-tags",
            "--branch",
            branch,
            url,
            str(dest),
            network=True,
            cwd=dest.parent,
            timeout=600,
        )
        git.branch = branch
        return git

    def stream(self, *args: str, network: bool = False) -> Generator[bytes, None, None]:
        """The stdout of one git command in chunks as git writes it (nothing held in memory)."""
        argv = ["git", *QUIET_CONFIG, *(NO_HELPER if network else ()), *args]
        self.calls.append(argv)
        errors = tempfile.TemporaryFile()  # a file, not a pipe: a chatty stderr cannot stall the reader
        try:
            proc = process.start(argv, cwd=self.workdir, env=self.env, stderr=errors, text=False)
        except BaseException:
            errors.close()
            raise
        out = proc.stdout
        assert isinstance(out, io.BufferedReader)
        try:
            yield from iter(lambda: out.read1(1 << 16), b"")
            if proc.wait() != 0:
                errors.seek(0)
                raise ExternalError(
                    f"git {args[0]} failed: {last_line(errors.read().decode('utf-8', 'replace'))}"
                )
        finally:
            process.stop(proc)
            out.close()
            errors.close()

    def blob(self, oid: str) -> bytes:
        """One blob's content, through a long-lived ``cat-file --batch`` (a partial clone fetches it)."""
        if self._batch is None:
            argv = ["git", *QUIET_CONFIG, *NO_HELPER, "cat-file", "--batch"]
            self.calls.append(argv)
            self._batch = process.start(
                argv,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=False,
            )
        stdin: IO[bytes] | None = self._batch.stdin
        stdout: IO[bytes] | None = self._batch.stdout
        assert stdin is not None and stdout is not None
        stdin.write(oid.encode() + b"\n")
        stdin.flush()
        header = stdout.readline().split()
        if len(header) != 3:
            raise ExternalError(f"git cat-file: object {oid} is missing from the GitOps repository")
        data = stdout.read(int(header[2]) + 1)[:-1]
        return data

    def is_ancestor(self, ancestor: str, descendant: str) -> bool | None:
        """``ancestor`` is ``descendant`` or one of its ancestors; None when git cannot tell (a
        commit it does not have)."""
        proc = self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return {0: True, 1: False}.get(proc.returncode)

    def has_commit(self, sha: str) -> bool:
        return self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode == 0

    def close(self) -> None:
        if self._batch is not None:
            for pipe in (self._batch.stdin, self._batch.stdout):
                if pipe is not None:
                    pipe.close()
            process.stop(self._batch)
            self._batch = None
