"""A step run inside its image with ``buildah run`` (chroot isolation, the host's network).

The clone is mounted at ``/opt/atlassian/pipelines/agent/build`` (Bitbucket's
``BITBUCKET_CLONE_DIR``), the runner's folder beside it; the image's own environment (``PATH``,
``HOME``...) applies, so a command the image lacks fails the step as it would on Bitbucket. The
container is named ``pipekit-run-...`` and removed when the step ends.
"""

from __future__ import annotations

from pathlib import Path

from pipekit.clients.workcontainers import ImageConfig, WorkContainers
from pipekit.pipelines.execution.interface import Execution

CLONE_DIR = "/opt/atlassian/pipelines/agent/build"
RUNNER_DIR = "/opt/atlassian/pipelines/agent/pipekit"


class ImageExecution(Execution):
    kind = "image"

    def __init__(
        self,
        step_dir: Path,
        clone: Path,
        *,
        image: str,
        config: ImageConfig,
        name: str,
        user: int | None,
        tool: WorkContainers | None = None,
        known: tuple[str, int] | None = None,
    ) -> None:
        super().__init__(step_dir, clone)
        self.image = image
        self.config = config
        self.name = name
        self.user = str(user) if user is not None else None
        self.tool = tool or WorkContainers()
        self.container: str | None = None
        self.clone_dir = CLONE_DIR
        self.known = known  # (home, uid) of this image's user, learnt by an earlier step of the run
        self.home = config.env.get("HOME") or (known[0] if known else None)
        self.uid = known[1] if known else 0  # who the commands run as: the clone is made theirs
        self.mounts: list[tuple[str, str]] = [(str(clone), CLONE_DIR), (str(self.runner), RUNNER_DIR)]

    def prepare(self) -> None:
        self.container = self.tool.create(self.image, self.name)
        if self.known is None:
            home, self.uid = user_of(
                self.tool.read_file(self.container, "/etc/passwd") or "", self.user or self.config.user or "0"
            )
            self.home = self.home or home

    def mount(self, host: Path, inside: str, read_only: bool = False) -> None:
        self.mounts.append((str(host), inside + (":ro" if read_only else "")))

    def runner_path(self) -> str:
        return RUNNER_DIR

    def base_environment(self) -> dict[str, str]:
        return {}  # the image's own, applied by buildah

    def argv(self, args: list[str]) -> tuple[list[str], dict[str, str] | None]:
        assert self.container is not None
        inner = ["/bin/sh", f"{RUNNER_DIR}/run.sh", *args]
        return self.tool.run_argv(
            self.container, inner, mounts=self.mounts, workdir=CLONE_DIR, user=self.user
        ), None

    def close(self) -> None:
        if self.container is not None:
            container, self.container = self.container, None
            self.tool.remove(container)


def user_of(passwd: str, user: str) -> tuple[str, int]:
    """(home, uid) of ``user`` (a name or number) as the runtime sets them: from /etc/passwd, else ``/``."""
    name = user.split(":", 1)[0]
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 6 and name in (fields[0], fields[2]):
            return fields[5] or "/", int(fields[2]) if fields[2].isdigit() else 0
    return "/", int(name) if name.isdigit() else 0
