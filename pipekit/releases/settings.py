"""Where the service repositories are, declared once (``--source-repo``, ``releases.*``): for
``pipekit diff``, ``promote``'s release notes and ``dora``'s lead time per commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipekit.core.options import option

_REPOS_SCHEMA = {"additionalProperties": {"type": "string", "minLength": 1}}


@dataclass(kw_only=True)
class SourceOptions:
    source_repos: list[str] = option(
        default_factory=list,
        flag="--source-repo",
        metavar="SERVICE=URL_OR_PATH",
        help="A service's source repository: a local path or a URL (repeatable).",
    )
    source_repo_map: dict[str, Any] = option(
        default_factory=dict,
        config="releases.source_repos",
        schema=_REPOS_SCHEMA,
        help="service -> its source repository, a URL or a local path.",
    )
    source_repo_template: str | None = option(
        env="PIPEKIT_SOURCE_REPO",
        config="releases.source_repo",
        min_length=1,
        help="Source repository URL or path with {service}, e.g. git@bitbucket.org:acme/{service}.git.",
    )
    cache_dir: Path = option(
        Path("~/.cache/pipekit/sources"),
        env="PIPEKIT_SOURCE_CACHE",
        config="releases.cache_dir",
        help="Where repository URLs are cloned (blob-less) and kept.",
    )

    def repos(self, env: Mapping[str, str], defaults: Mapping[str, str] | None = None) -> Any:
        """The :class:`~pipekit.releases.sources.SourceRepos` these options name (``defaults``: a checkout
        at hand, weaker than the template)."""
        from pipekit.releases.sources import configured

        return configured(
            self.source_repos, self.source_repo_map, self.source_repo_template, self.cache_dir, env, defaults
        )
