"""The one git client (steps, the rehearsal and the stand-ins), over :mod:`pipekit.core.process`.

For writing to a GitOps repository: shallow, partial and sparse clones
(``--depth 1 --filter=blob:none --sparse``), HTTPS credentials through ``GIT_ASKPASS`` (a tiny script that
reads the token from the process environment: the token is never in a URL, a process argument, ``.git/config``
or a file), commits with trailers, and pushes that report a non-fast-forward rejection so the caller can
fetch, re-apply and retry. Every git process goes through :meth:`Git.run` (or :meth:`Git.clone`):
a missing git is exit 2 naming its package, a git past its timeout exit 4.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipekit.core import process
from pipekit.core.errors import BadInput, ExternalError
from pipekit.core.masking import mask

TOKEN_ENV = "PIPEKIT_GITOPS_TOKEN"
USERNAME_ENV = "PIPEKIT_GITOPS_USERNAME"
PUSH_GRACE_S = 10.0  # a push under way when a signal arrives gets this long to finish
DEFAULT_USERNAME = "x-token-auth"  # Bitbucket repository/project access tokens
# The askpass script holds no secret: git runs it with our environment, it prints the token from there.
ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  [Uu]sername*) printf '%s\\n' "${PIPEKIT_GITOPS_USERNAME:-x-token-auth}" ;;
  *) printf '%s\\n' "$PIPEKIT_GITOPS_TOKEN" ;;
esac
"""
# Network commands never consult or feed a credential helper (it could store the token on disk).
NO_HELPER = ("-c", "credential.helper=", "-c", "core.askPass=")
# No background gc/maintenance in a throw-away clone; no signing prompts in CI.
QUIET_CONFIG = ("-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "commit.gpgsign=false")
# A push that lost a race (the branch moved); a hook or permission refusal is not one of these.
_REJECTED = (
    "[rejected]",
    "non-fast-forward",
    "fetch first",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value",
)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str


def remote_url(repo: str) -> str:
    """``repo`` as a URL git honours ``--depth``/``--filter`` for (local paths become ``file://``)."""
    if "://" in repo or (":" in repo and not repo.startswith(("/", ".")) and "@" in repo.split(":")[0]):
        split = urlsplit(repo) if "://" in repo else None
        if split is not None and split.password:
            raise BadInput(
                "the GitOps repository URL contains a password",
                hint=f"put the token in {TOKEN_ENV}, never in the URL",
            )
        return repo
    path = Path(repo).expanduser().resolve()
    return path.as_uri()


def display_url(url: str) -> str:
    split = urlsplit(url)
    if split.scheme in ("http", "https") and split.username:
        return mask(url.replace(f"{split.username}@", "", 1))
    return mask(url)


class Git:
    """git commands in one working directory, with a private environment."""

    def __init__(self, workdir: Path, env: Mapping[str, str], debug: bool = False) -> None:
        self.workdir = workdir
        self.env = dict(env)
        self.debug = debug
        self.calls: list[list[str]] = []
        self.branch = "main"  # argv of every git process (tests assert no secret is in them)

    def run(
        self,
        *args: str,
        network: bool = False,
        check: bool = True,
        cwd: Path | None = None,
        input_text: str | None = None,
        timeout: float = 120,
    ) -> process.Result:
        argv = ["git", *QUIET_CONFIG, *(NO_HELPER if network else ()), *args]
        self.calls.append(argv)
        verb = _verb(args)
        proc = process.run(
            argv,
            cwd=cwd or self.workdir,
            env=self.env,
            input=input_text,
            timeout=timeout,
            check=False,
            what=f"git {verb}",
        )
        if check and proc.returncode != 0:
            raise ExternalError(f"git {verb} failed: {git_message(proc.stderr or proc.stdout)}")
        return proc

    def output(self, *args: str, **kwargs: Any) -> str:
        """The stripped stdout of a git command that must succeed."""
        return self.run(*args, **kwargs).stdout.strip()

    # -- clone ----------------------------------------------------------
    @classmethod
    def clone(
        cls,
        url: str,
        dest: Path,
        *,
        branch: str,
        sparse: Sequence[str] | None,
        env: Mapping[str, str],
        depth: int = 1,
        while_cloning: Callable[[], object] | None = None,
    ) -> Git:
        """Shallow, blob-less clone of ``branch`` checking out only the ``sparse`` directories.

        With ``sparse=None`` nothing is checked out yet: list :meth:`files`, then :meth:`checkout`.
        ``while_cloning`` runs in this process while git clones (imports, preparation).
        """
        git = cls(dest, env)
        if sparse is None:
            how = ["--no-checkout", "--sparse"]
        else:
            # The clone checks out the cone itself: an empty template holding only the cone's
            # sparse-checkout patterns saves two git processes (and copies no sample hooks).
            template = Path(tempfile.mkdtemp(prefix=".template-", dir=dest.parent))
            (template / "info").mkdir()
            (template / "info" / "sparse-checkout").write_text(cone_patterns(sparse), encoding="utf-8")
            how = [
                f"--template={template}",
                "--config",
                "core.sparseCheckout=true",
                "--config",
                "core.sparseCheckoutCone=true",
            ]
        argv = [
            "git",
            *QUIET_CONFIG,
            *NO_HELPER,
            "clone",
            "--quiet",
            *how,
            "--depth",
            str(depth),
            "--filter=blob:none",
            "--single-branch",
            "--no-tags",
            "--branch",
            branch,
            url,
            str(dest),
        ]
        git.calls.append(argv)
        try:
            proc = process.start(argv, cwd=dest.parent, env=git.env)
            try:
                if while_cloning is not None:
                    while_cloning()
                done = process.finish(proc, timeout=300, check=False, what=f"cloning {display_url(url)}")
            except BaseException:  # the clone does not outlive a failed preparation or a signal
                process.stop(proc)
                raise
        finally:
            if sparse is not None:
                shutil.rmtree(template, ignore_errors=True)
        if done.returncode != 0:
            raise ExternalError(
                f"cannot clone the GitOps repository {display_url(url)} (branch {branch}): "
                f"{git_message(done.stderr)}",
                hint=f"check the URL, the branch and {TOKEN_ENV}",
            )
        git.branch = branch
        return git

    def checkout(self, sparse: Sequence[str]) -> None:
        """Check out only the ``sparse`` directories (cone mode); their blobs are fetched in one go."""
        self.run("sparse-checkout", "set", "--cone", *sparse)
        self.run("checkout", "--quiet", self.branch, network=True)

    def sparse_add(self, dirs: Sequence[str]) -> None:
        if dirs:
            self.run("sparse-checkout", "add", *dirs, network=True)

    def files(self, rev: str = "HEAD") -> list[str]:
        """Every file path in ``rev`` (trees are present in a blob-less clone: no download)."""
        out = self.run("ls-tree", "-r", "--name-only", "--full-tree", rev).stdout
        return out.splitlines()

    def tree_ids(self, dirs: Sequence[str], rev: str = "HEAD") -> tuple[str, ...]:
        """The tree object ids of ``dirs`` in ``rev`` (equal ids: identical content)."""
        if not dirs:
            return ()
        proc = self.run("rev-parse", *(f"{rev}:{d}" for d in dirs), check=False)
        return tuple(proc.stdout.split()) if proc.returncode == 0 else (proc.stderr,)

    def head(self) -> str:
        """The commit HEAD points at (read from the loose ref when there is one: no process)."""
        git_dir = self.workdir / ".git"
        try:
            target = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
            if target.startswith("ref: "):
                sha = (git_dir / target[5:]).read_text(encoding="utf-8").strip()
            else:
                sha = target
            if len(sha) in (40, 64) and all(c in "0123456789abcdef" for c in sha):
                return sha
        except OSError:
            pass
        return self.run("rev-parse", "HEAD").stdout.strip()

    # -- change ---------------------------------------------------------
    def diff(self) -> str:
        return self.run("diff", "--no-color", "--no-ext-diff", "HEAD").stdout

    def commit(self, message: str, *, paths: Sequence[str], author: Identity, committer: Identity) -> str:
        env = dict(self.env)
        env.update(
            GIT_AUTHOR_NAME=author.name,
            GIT_AUTHOR_EMAIL=author.email,
            GIT_COMMITTER_NAME=committer.name,
            GIT_COMMITTER_EMAIL=committer.email,
        )
        saved, self.env = self.env, env
        try:
            # --include stages the paths into the (otherwise clean) index and commits it: the same
            # commit as --only (the default with paths), without its temporary index (a little quicker).
            self.run(
                "commit",
                "--quiet",
                "--no-verify",
                "--cleanup=strip",
                "--include",
                "-F",
                "-",
                "--",
                *paths,
                input_text=message,
            )
        finally:
            self.env = saved
        return self.head()

    # -- push -----------------------------------------------------------
    def push(
        self, branch: str, *, timeout: float = 120, grace: float = PUSH_GRACE_S, force: bool = False
    ) -> bool:
        """Push HEAD to ``branch``; False on a non-fast-forward (or concurrent-update) rejection.

        A signal during the push does not cut it: the remote may already be taking the commit in,
        so git gets up to ``grace`` seconds more to finish (then it is stopped), and the signal is
        raised after that; the caller then asks the remote what it holds (:meth:`remote_head`).
        """
        argv = [
            "git",
            *QUIET_CONFIG,
            *NO_HELPER,
            "push",
            "--porcelain",
            *(["--force"] if force else []),
            "origin",
            f"HEAD:refs/heads/{branch}",
        ]
        self.calls.append(argv)
        child = process.start(argv, cwd=self.workdir, env=self.env)
        proc = process.finish(child, timeout=timeout, check=False, settle=grace, what=f"git push to {branch}")
        if proc.returncode == 0:
            return True
        text = proc.stdout + proc.stderr
        if any(marker in text for marker in _REJECTED):
            return False
        raise ExternalError(f"git push to {branch} failed: {push_reason(proc.stdout, proc.stderr)}")

    def remote_head(self, branch: str, timeout: float = 20) -> str | None:
        """The commit ``branch`` points at on the remote now (``git ls-remote``), None when absent."""
        proc = self.run(
            "ls-remote", "--heads", "origin", f"refs/heads/{branch}", network=True, timeout=timeout
        )
        for line in proc.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            if ref == f"refs/heads/{branch}":
                return sha
        return None

    def find_message(
        self, patterns: Sequence[str], *, max_commits: int = 1000, step: int = 100
    ) -> str | None:
        """The message of the newest commit on HEAD containing every pattern (fixed strings).

        A shallow clone is deepened ``step`` commits at a time (commits and trees only, no
        blobs) up to ``max_commits``; None when no such commit is found.
        """
        grep = [f"--grep={p}" for p in patterns]
        seen = 1
        while True:
            out = self.run("log", "-1", "--format=%B", "--fixed-strings", "--all-match", *grep, "HEAD").stdout
            if out.strip():
                return out
            if seen >= max_commits or not (self.workdir / ".git" / "shallow").exists():
                return None
            proc = self.run(
                "fetch",
                "--quiet",
                f"--deepen={step}",
                "--no-tags",
                "origin",
                f"refs/heads/{self.branch}",
                network=True,
                check=False,
            )
            if proc.returncode != 0:
                return None
            seen += step

    def refresh(self, branch: str) -> str:
        """Fetch the branch tip and reset onto it (the caller re-applies its edit on that tree)."""
        self.run(
            "fetch",
            "--quiet",
            "--depth",
            "1",
            "--no-tags",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            network=True,
        )
        self.run("reset", "--quiet", "--hard", f"refs/remotes/origin/{branch}", network=True)
        return self.head()


def _verb(args: Sequence[str]) -> str:
    """The git subcommand in ``args`` (after any ``-c key=value`` / ``-C dir`` options)."""
    i = 0
    while i < len(args) and args[i] in ("-c", "-C"):
        i += 2
    return args[i] if i < len(args) else "(no command)"


def cone_patterns(dirs: Sequence[str]) -> str:
    """The cone-mode sparse-checkout file for ``dirs``, as ``git sparse-checkout set --cone`` writes it."""
    full = sorted({d.strip("/") for d in dirs})
    full = [d for d in full if not any(d.startswith(f + "/") for f in full)]
    parents = sorted({"/".join(d.split("/")[:i]) for d in full for i in range(1, d.count("/") + 1)})
    lines = ["/*", "!/*/"]
    for parent in parents:
        lines += [f"/{parent}/", f"!/{parent}/*/"]
    lines += [f"/{d}/" for d in full]
    return "\n".join(lines) + "\n"


def push_reason(porcelain: str, stderr: str) -> str:
    """The ref's status from ``push --porcelain`` (``[remote rejected] (hook declined)``)
    and what the remote said."""
    status = [line.split("\t")[-1] for line in porcelain.splitlines() if line.startswith("!")]
    remote = [
        line.removeprefix("remote:").strip() for line in stderr.splitlines() if line.startswith("remote:")
    ]
    parts = [p for p in (status[:1] + [r for r in remote if r][:1]) if p]
    return mask("; ".join(parts)) if parts else last_line(stderr or porcelain)


def git_message(text: str, limit: int = 800) -> str:
    """What git said, whole: from its first ``fatal:``/``error:`` line on, wrapped lines joined, masked.

    git wraps one sentence over several lines ("Please make sure you have the correct access
    rights / and the repository exists."): the last line alone says nothing.
    """
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.startswith(("fatal:", "error:"))), 0)
    parts: list[str] = []
    for line in lines[start:]:
        if line.startswith("hint:"):
            continue
        if parts and not line.startswith(("fatal:", "error:", "remote:")):
            parts[-1] += " " + line
        else:
            parts.append(line)
    joined = "; ".join(parts) or "(no output)"
    return mask(joined if len(joined) <= limit else joined[: limit - 3] + "...")


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return mask(lines[-1]) if lines else "(no output)"


def isolated_env(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the user's global and system git configuration (hooks, signing, templates):
    for the repositories the rehearsal and the stand-ins make."""
    return {**env, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


_LOCAL_GIT_VARS = {
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ASKPASS",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_NAMESPACE",
}
_ID_VARS = ("GIT_AUTHOR_", "GIT_COMMITTER_")


class Workspace:
    """A private temporary folder (0700) holding the clone and the askpass script; removed on exit."""

    def __init__(self, env: Mapping[str, str], username: str | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pipekit-gitops-"))
        os.chmod(self.root, stat.S_IRWXU)
        self.env = {k: v for k, v in env.items() if k not in _LOCAL_GIT_VARS and not k.startswith(_ID_VARS)}
        self.env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C")
        token = env.get(TOKEN_ENV)
        if token:
            askpass = self.root / "askpass.sh"
            askpass.write_text(ASKPASS_SCRIPT, encoding="utf-8")
            os.chmod(askpass, stat.S_IRWXU)
            self.env.update(
                {
                    "GIT_ASKPASS": str(askpass),
                    TOKEN_ENV: token,
                    USERNAME_ENV: username or env.get(USERNAME_ENV) or DEFAULT_USERNAME,
                }
            )
        self.repo = self.root / "repo"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
