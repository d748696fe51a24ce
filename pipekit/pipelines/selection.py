"""Which pipeline a trigger starts, by Bitbucket's rules.

Atlassian's "Pipeline start conditions" and "Use glob patterns" pages, and Atlassian's answer on
overlapping globs: a literal branch (tag) name wins over any pattern; among patterns the most
specific wins (here: the longest matching pattern, as ktomk/pipelines does; equal lengths, the
first in the file); ``default`` runs for a branch push no branch pipeline matches, never for a
tag; ``pull-requests`` patterns match the pull request's *source* branch (``**`` matches every
one), and ``destinations`` under a pattern match its destination the same way; a custom pipeline
runs only when named.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.pipelines import globs
from pipekit.pipelines.model import Pipeline, PipelineFile

KINDS = ("branch", "tag", "pr", "custom", "default", "bookmark")


@dataclass(frozen=True)
class Trigger:
    kind: str  # branch | tag | pr | custom | default | bookmark
    name: str = ""  # the branch, tag, custom pipeline or pull request's source branch
    destination: str = ""  # a pull request's destination branch

    def __str__(self) -> str:
        if self.kind == "pr":
            return f"pr:{self.name}:{self.destination}"
        return self.kind if self.kind == "default" else f"{self.kind}:{self.name}"


def parse_trigger(text: str, current_branch: str | None) -> Trigger:
    """``branch:NAME``, ``tag:NAME``, ``pr:SOURCE:DEST``, ``custom:NAME``, ``default``; empty: this branch."""
    if not text:
        if not current_branch:
            raise BadInput("the repository is on no branch (a detached HEAD): pass --trigger branch:NAME")
        return Trigger("branch", current_branch)
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise BadInput(
            f"--trigger {text!r}: unknown trigger",
            hint="one of branch:NAME, tag:NAME, pr:SOURCE:DEST, custom:NAME, default",
        )
    if kind == "default":
        if rest:
            raise BadInput(f"--trigger {text!r}: default takes no name")
        return Trigger("default", current_branch or "")
    if kind == "pr":
        source, _, dest = rest.partition(":")
        if not source or not dest:
            raise BadInput(f"--trigger {text!r}: a pull request is pr:SOURCE:DEST")
        return Trigger("pr", source, dest)
    if not rest:
        raise BadInput(f"--trigger {text!r}: {kind} needs a name ({kind}:NAME)")
    if kind == "custom":
        return Trigger("custom", rest)
    return Trigger(kind, rest)


def select(file: PipelineFile, trigger: Trigger) -> Pipeline:
    """The pipeline Bitbucket would start, or exit 1 saying it would start none."""
    found: Pipeline | None
    if trigger.kind == "custom":
        found = file.custom.get(trigger.name)
        if found is None:
            known = ", ".join(sorted(file.custom)) or "none"
            raise BadInput(
                f"--trigger {trigger}: no custom pipeline {trigger.name!r} (custom pipelines: {known})"
            )
        return found
    if trigger.kind == "default":
        found = file.default
    elif trigger.kind == "branch":
        found = best(file.branches, trigger.name) or file.default
    elif trigger.kind == "bookmark":
        found = best(file.bookmarks, trigger.name) or file.default
    elif trigger.kind == "tag":
        found = best(file.tags, trigger.name)
    else:
        found = best(file.pull_requests, trigger.name)
        if found is not None and found.destinations:
            found = best(found.destinations, trigger.destination)
    if found is None:
        raise CheckFailed(
            f"Bitbucket would start no pipeline for {trigger} in {file.path.name}" + _why(file, trigger)
        )
    return found


def best(section: dict[str, Pipeline], name: str) -> Pipeline | None:
    """A literal name first, else the longest matching pattern."""
    if name in section:
        return section[name]
    winner: tuple[int, Pipeline] | None = None
    for pattern, pipe in section.items():
        if globs.matches(pattern, name) and (winner is None or len(pattern) > winner[0]):
            winner = (len(pattern), pipe)
    return winner[1] if winner else None


def _why(file: PipelineFile, trigger: Trigger) -> str:
    if trigger.kind == "tag":
        return " (no tags pattern matches it; default never runs for a tag)"
    if trigger.kind == "pr":
        return " (no pull-requests pattern matches its source branch; default never runs for a pull request)"
    if trigger.kind == "default":
        return " (the file has no default pipeline)"
    return " (no branches pattern matches it and the file has no default pipeline)"
