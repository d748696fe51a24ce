"""The service repositories whose commits a promotion carries: where each one is, opened for reading.

Where: ``--source-repo SERVICE=URL_OR_PATH`` (repeatable), ``releases.source_repos`` (a mapping)
or the ``releases.source_repo`` template with ``{service}``. A local path is read in place (it
must be a repository: the top of a work tree, or a bare one); a URL is cloned bare and blob-less
(commits and trees, no file contents) into a cache folder once, and fetched again only when a
commit it needs is missing. ``PIPEKIT_SOURCE_TOKEN`` (never the GitOps token) answers an HTTPS
password prompt; SSH uses the environment's keys.

Reading: :meth:`SourceRepo.walk` is one ``git log --left-right TARGET...SOURCE``: the commits the
source side has and the target lacks (what a promotion carries), and those the target has and
the source lacks (what it would roll back).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from pipekit.clients.git import TOKEN_ENV, Workspace, display_url, git_message, remote_url
from pipekit.clients.git_history import HistoryGit
from pipekit.core.errors import BadInput, PipekitError
from pipekit.releases.model import SourceCommit
from pipekit.releases.notes import jira_keys

SOURCE_TOKEN_ENV = "PIPEKIT_SOURCE_TOKEN"
_SHA = re.compile(r"[0-9a-f]{7,64}")
_FORMAT = "--format=%x00%m%H%x1f%an%x1f%ct%x1f%P%x1f%B"


class Unreadable(Exception):
    """The repository or a commit in it cannot be read: the message says which, for that service only."""


def parse_pairs(values: Sequence[str], flag: str = "--source-repo") -> dict[str, str]:
    """``SERVICE=URL_OR_PATH`` values as a mapping; exit 2 naming a malformed one."""
    out: dict[str, str] = {}
    for value in values:
        service, sep, where = value.partition("=")
        if not sep or not service.strip() or not where.strip():
            raise BadInput(f"{flag} {value!r}: expected SERVICE=URL_OR_PATH, e.g. orders=../orders")
        out[service.strip()] = where.strip()
    return out


def configured(
    flags: Sequence[str],
    mapping: Mapping[str, object] | None,
    template: str | None,
    cache_dir: Path | str,
    env: Mapping[str, str],
    defaults: Mapping[str, str] | None = None,
) -> SourceRepos:
    """The repositories named by ``--source-repo`` flags, ``releases.source_repos`` and the
    ``releases.source_repo`` template (strongest first), else ``defaults`` (a checkout at hand)."""
    mapped = {str(k): str(v) for k, v in (mapping or {}).items()}
    given = parse_pairs(flags)
    labels = {**{s: f"releases.source_repos.{s}" for s in mapped}, **{s: f"--source-repo {s}" for s in given}}
    return SourceRepos(
        {**mapped, **given},
        template=template,
        cache_dir=Path(cache_dir),
        env=env,
        labels=labels,
        defaults=dict(defaults or {}),
    )


def is_url(where: str) -> bool:
    return "://" in where or bool(re.match(r"^[^/@:]+@[^/:]+:", where))


def check_local(where: str, label: str) -> Path:
    """A local source repository, or exit 2: it must exist and be a repository's top (a ``.git``
    folder or file) or a bare one (``HEAD``, ``objects/``, ``refs/``). Read from the file system:
    no git process."""
    path = Path(where).expanduser()
    if not path.is_dir():
        raise BadInput(f"{label}: {where} is not a directory", hint="pass a service repository path or URL")
    top = path.resolve()
    if (top / ".git").exists() or (
        (top / "HEAD").is_file() and (top / "objects").is_dir() and (top / "refs").is_dir()
    ):
        return top
    outer = next((p for p in top.parents if (p / ".git").exists()), None)
    inside = f" (it is inside {outer})" if outer is not None else ""
    raise BadInput(
        f"{label}: {where} is not a git repository{inside}",
        hint="pass the service repository's top folder, or its URL",
    )


@dataclass
class SourceRepos:
    """Where each service's repository is; opens each once per run."""

    explicit: Mapping[str, str]  # service -> URL or path (flags and pipekit.yaml)
    template: str | None = None  # with {service}
    cache_dir: Path = Path("~/.cache/pipekit/sources")
    env: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)  # service -> where it was set (for errors)
    defaults: Mapping[str, str] = field(
        default_factory=dict
    )  # service -> a checkout at hand (the template wins)
    _open: dict[str, SourceRepo | Unreadable] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.explicit or self.template or self.defaults)

    def check(self) -> None:
        """Every explicitly named local path is a repository (exit 2 before any work otherwise)."""
        for service, where in self.explicit.items():
            if not is_url(where):
                check_local(where, self.labels.get(service, f"--source-repo {service}"))

    def where(self, service: str) -> str | None:
        if service in self.explicit:
            return self.explicit[service]
        if self.template:
            return self.template.replace("{service}", service)
        return self.defaults.get(service)

    def open(self, service: str) -> SourceRepo:
        """The service's repository; :class:`Unreadable` when there is none or it cannot be read."""
        if service not in self._open:
            try:
                self._open[service] = self._make(service)
            except Unreadable as exc:
                self._open[service] = exc
        found = self._open[service]
        if isinstance(found, Unreadable):
            raise found
        return found

    def _make(self, service: str) -> SourceRepo:
        where = self.where(service)
        if not where:
            raise Unreadable(
                f"no source repository for {service}: pass --source-repo {service}=URL_OR_PATH "
                "(or set releases.source_repos / releases.source_repo)"
            )
        env = {k: v for k, v in self.env.items() if k not in (TOKEN_ENV, SOURCE_TOKEN_ENV)}
        if not is_url(where):
            try:
                path = check_local(where, self.labels.get(service, f"source repository of {service}"))
            except BadInput as exc:
                raise Unreadable(exc.message) from None
            return SourceRepo(
                service, HistoryGit(path, {**env, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}), where
            )
        token = self.env.get(SOURCE_TOKEN_ENV)
        net_env = {**env, **({TOKEN_ENV: token} if token else {})}
        url = remote_url(where)
        cache = Path(self.cache_dir).expanduser()
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1])[:40]
        dest = cache / f"{slug}-{hashlib.sha256(url.encode()).hexdigest()[:12]}"
        repo = SourceRepo(
            service,
            HistoryGit(dest, {**env, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}),
            display_url(where),
            url=url,
            net_env=net_env,
        )
        if not (dest / "HEAD").exists():
            cache.mkdir(parents=True, exist_ok=True)
            repo.clone()
        return repo


@dataclass
class Walk:
    carried: list[SourceCommit]  # in the source only, newest first
    rolled_back: list[SourceCommit]  # in the target only
    carried_total: int
    rolled_back_total: int
    truncated: bool


class SourceRepo:
    def __init__(
        self,
        service: str,
        git: HistoryGit,
        display: str,
        *,
        url: str | None = None,
        net_env: Mapping[str, str] | None = None,
    ) -> None:
        self.service, self.git, self.display, self.url = service, git, display, url
        self.net_env = dict(net_env or {})
        self.fetched = False

    def _network(self, *args: str, cwd: Path) -> None:
        try:
            with Workspace(self.net_env) as ws:
                proc = HistoryGit(self.git.workdir, ws.env).run(
                    *args, network=True, check=False, timeout=600, cwd=cwd
                )
        except (
            PipekitError
        ) as exc:  # git missing, or past its timeout: this service's note, not the run's end
            raise Unreadable(f"cannot read {self.display}: {exc.message}") from None
        if proc.returncode != 0:
            raise Unreadable(f"cannot read {self.display}: {git_message(proc.stderr or proc.stdout)}")

    def clone(self) -> None:
        dest = self.git.workdir
        self._network(
            "clone",
            "--quiet",
            "--bare",
            "--filter=blob:none",
            "--no-tags",
            self.url or "",
            str(dest),
            cwd=dest.parent,
        )
        self.fetched = True

    def fetch(self) -> None:
        self._network(
            "fetch",
            "--quiet",
            "--filter=blob:none",
            "--no-tags",
            "--prune",
            "origin",
            "+refs/heads/*:refs/heads/*",
            cwd=self.git.workdir,
        )
        self.fetched = True

    def need(self, *shas: str) -> None:
        """Every commit is here (a cached clone is fetched once if not); Unreadable names a missing one."""
        for sha in shas:
            if not _SHA.fullmatch(sha):
                raise Unreadable(f"{sha!r} is not a commit id")
        missing = [s for s in shas if not self.git.has_commit(s)]
        if missing and self.url and not self.fetched:
            self.fetch()
            missing = [s for s in missing if not self.git.has_commit(s)]
        if missing:
            raise Unreadable(
                f"commit {missing[0][:12]} is not in {self.display}"
                + (" (fetched just now)" if self.url else "")
            )

    def _log(self, shas: Sequence[str], *args: str) -> str:
        """``git log ARGS``; when it fails, which commit is missing says why (a cached clone is
        fetched once, then asked again)."""
        for sha in shas:
            if not _SHA.fullmatch(sha):
                raise Unreadable(f"{sha!r} is not a commit id")
        out = self.git.run("log", *args, "--", check=False)
        if out.returncode != 0:
            self.need(*shas)
            out = self.git.run("log", *args, "--", check=False)
            if out.returncode != 0:
                raise Unreadable(f"git log in {self.display}: {git_message(out.stderr)}")
        return out.stdout

    def walk(self, target: str, source: str, limit: int, projects: Sequence[str] = ()) -> Walk:
        """The commits between the target's and the source's source commit, both ways."""
        text = self._log(
            (target, source), "--left-right", f"--max-count={limit + 1}", _FORMAT, f"{target}...{source}"
        )
        left: list[SourceCommit] = []
        right: list[SourceCommit] = []
        for record in text.split("\x00")[1:]:
            side, commit = record[:1], _commit(record[1:], projects)
            (left if side == "<" else right).append(commit)
        truncated = len(left) + len(right) > limit
        carried_total, rolled_total = len(right), len(left)
        if truncated:
            counts = self.git.output(
                "rev-list", "--left-right", "--count", f"{target}...{source}", "--"
            ).split()
            rolled_total, carried_total = int(counts[0]), int(counts[1])
            left, right = left[:limit], right[:limit]
        return Walk(right, left, carried_total, rolled_total, truncated)

    def commits(
        self, old: str | None, new: str, limit: int, projects: Sequence[str] = ()
    ) -> list[SourceCommit]:
        """The commits ``new`` has and ``old`` lacks (every ancestor of ``new`` without
        ``old``), newest first."""
        text = self._log(
            (new, *([old] if old else [])),
            f"--max-count={limit}",
            _FORMAT.replace("%m", ""),
            new,
            *([f"^{old}"] if old else []),
        )
        return [_commit(r, projects) for r in text.split("\x00")[1:]]

    def close(self) -> None:
        self.git.close()


def _commit(record: str, projects: Sequence[str]) -> SourceCommit:
    sha, author, when, parents, body = record.split("\x1f", 4)
    subject = body.split("\n", 1)[0].strip()
    at = datetime.fromtimestamp(int(when), tz=timezone.utc).isoformat()
    return SourceCommit(
        sha=sha,
        author=author,
        date=at,
        subject=subject,
        jira=jira_keys(body, projects),
        merge=len(parents.split()) > 1,
    )
