"""Container tools behind one small interface: docker, buildah, podman.

pip-audit style: :class:`ContainerTool` is the interface, one class per tool, and
:func:`get_tool` picks one by name. Every method runs the tool's CLI with an argument list
(never a shell); ``*_argv`` methods return the exact list a call would run, which is how the
docker path is tested on machines without a Docker engine. Passwords go to the tool on
stdin (``--password-stdin``), never in arguments. A failing command raises a one-line,
masked error carrying the tool's last stderr line.
"""

from __future__ import annotations

import abc
import json
import os
import re
import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pipekit.core import process
from pipekit.core.errors import BadInput, CheckFailed, ExternalError
from pipekit.core.masking import mask

LineSink = Callable[[str], None]

_NOT_FOUND = re.compile(r"image not known|no such image|not found|does not exist|unable to find", re.I)
_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class ContainerToolError(ExternalError):
    """A container tool command failed (exit 3); ``stderr_tail`` is its last stderr line, masked."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str] = (),
        returncode: int | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


class ImageBuildFailed(CheckFailed):
    """The image build itself failed (a Dockerfile step, a missing file in the context): exit 1."""


class ImageNotFound(BadInput):
    """The local image asked for does not exist: exit 2."""


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return mask(lines[-1]) if lines else ""


class ContainerTool(abc.ABC):
    """One container tool. Methods raise :class:`ContainerToolError` when the tool fails."""

    name: str = ""
    install_hint: str = ""
    build_command: str = "build"  # the subcommand that builds an image

    def __init__(
        self,
        executable: str | None = None,
        *,
        output: LineSink | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self._executable = executable
        self.output = output  # receives build output lines live (None: keep quiet)
        self.env = env

    # -- the interface ---------------------------------------------------
    def build_argv(
        self,
        *,
        context: Path,
        dockerfile: Path | None,
        tags: list[str],
        labels: dict[str, str],
        build_args: Mapping[str, str | None],
        iidfile: Path | None = None,
    ) -> list[str]:
        """The exact argument list :meth:`build` runs."""
        argv = [self.executable, self.build_command]
        if dockerfile is not None:
            argv += ["--file", str(dockerfile)]
        for tag in tags:
            argv += ["--tag", tag]
        for key, value in labels.items():
            argv += ["--label", f"{key}={value}"]
        for key, arg in build_args.items():  # None: the tool reads the value from its environment
            argv += ["--build-arg", key if arg is None else f"{key}={arg}"]
        if iidfile is not None:
            argv += ["--iidfile", str(iidfile)]
        return [*argv, str(context)]

    @abc.abstractmethod
    def inspect(self, ref: str) -> dict[str, Any]:
        """``{"id", "labels", "names", "tags", "digest"}`` of a local image;
        :class:`ImageNotFound` if absent."""

    @abc.abstractmethod
    def push_argv(
        self, ref: str, dest: str, *, tls_verify: bool = True, digestfile: Path | None = None
    ) -> list[str]:
        """The exact argument list :meth:`push` runs."""

    def build(
        self,
        *,
        context: Path,
        dockerfile: Path | None,
        tags: list[str],
        labels: dict[str, str],
        build_args: Mapping[str, str | None],
    ) -> str:
        """Build an image and return its ID (``sha256:...``).

        A build arg whose value is ``None`` is passed as ``--build-arg KEY``: the tool takes the
        value from its environment, which keeps secrets out of process arguments.
        """
        with tempfile.TemporaryDirectory(prefix="pipekit-build-") as tmp:
            iidfile = Path(tmp) / "iid"
            argv = self.build_argv(
                context=context,
                dockerfile=dockerfile,
                tags=tags,
                labels=labels,
                build_args=build_args,
                iidfile=iidfile,
            )
            self._stream(
                argv, failure=ImageBuildFailed, what=f"{self.name} build of {tags[0] if tags else context}"
            )
            image_id = iidfile.read_text(encoding="utf-8").strip() if iidfile.exists() else ""
        if not image_id:
            raise ContainerToolError(f"{self.name} build finished but wrote no image ID", argv=argv)
        return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"

    def exists(self, ref: str) -> bool:
        try:
            self.inspect(ref)
        except ImageNotFound:
            return False
        return True

    def tag_argv(self, ref: str, new_ref: str) -> list[str]:
        return [self.executable, "tag", ref, new_ref]

    def tag(self, ref: str, new_ref: str) -> None:
        self._run(self.tag_argv(ref, new_ref))

    def login_argv(self, registry: str, username: str, *, tls_verify: bool = True) -> list[str]:
        argv = [self.executable, "login", "--username", username, "--password-stdin"]
        if not tls_verify:
            argv.append("--tls-verify=false")
        return [*argv, registry]

    def login(self, registry: str, username: str, password: str, *, tls_verify: bool = True) -> None:
        """Log in; the password goes on stdin, never into the arguments."""
        self._run(self.login_argv(registry, username, tls_verify=tls_verify), stdin=password)

    def push(self, ref: str, dest: str, *, tls_verify: bool = True) -> str | None:
        """Push local ``ref`` to ``dest`` (registry/repo:tag); the manifest digest when the tool tells."""
        with tempfile.TemporaryDirectory(prefix="pipekit-push-") as tmp:
            digestfile = Path(tmp) / "digest"
            out = self._run(self.push_argv(ref, dest, tls_verify=tls_verify, digestfile=digestfile))
            if digestfile.exists():
                digest = digestfile.read_text(encoding="utf-8").strip()
                if digest:
                    return digest
        found = _DIGEST.findall(out)
        return found[-1] if found else None

    # -- plumbing ----------------------------------------------------------
    @property
    def executable(self) -> str:
        return self._executable or self.name

    def resolve(self) -> str:
        """The tool's path on PATH; :class:`BadInput` naming the tool and where it comes from if missing."""
        exe = self.executable
        found = exe if os.sep in exe and os.access(exe, os.X_OK) else shutil.which(exe)
        if not found:
            raise BadInput(f"container tool {exe!r} not found on PATH", hint=self.install_hint)
        return found

    def _run(self, argv: list[str], *, stdin: str | None = None) -> str:
        exe = self.resolve()
        proc = process.run(
            [exe, *argv[1:]], input=stdin, env=self.env, check=False, what=f"{self.name} {argv[1]}"
        )
        if proc.returncode != 0:
            tail = _last_line(proc.stderr) or _last_line(proc.stdout)
            cls = ImageNotFound if argv[1:2] in (["inspect"], ["image"]) and _NOT_FOUND.search(tail) else None
            if cls is not None:
                raise ImageNotFound(f"local image {argv[-1]!r} not found ({self.name}: {tail})")
            raise ContainerToolError(
                f"{self.name} {argv[1]} failed (exit {proc.returncode}): {tail or 'no error output'}",
                argv=argv,
                returncode=proc.returncode,
                stderr_tail=tail,
            )
        return proc.stdout + proc.stderr

    def _stream(self, argv: list[str], *, failure: type[CheckFailed], what: str) -> None:
        """Run with output streamed line by line to :attr:`output`; keep the tail for the error."""
        exe = self.resolve()
        tail: deque[str] = deque(maxlen=20)

        def line_out(line: str) -> None:
            if line.strip():
                tail.append(line)
            if self.output is not None:
                self.output(line)

        proc = process.run([exe, *argv[1:]], env=self.env, check=False, stream=line_out, what=what)
        if proc.returncode != 0:
            last = _last_line("\n".join(tail))
            raise failure(f"{what} failed (exit {proc.returncode}): {last or 'no error output'}")


class Docker(ContainerTool):
    """The docker CLI (Bitbucket's docker service). tls_verify is decided by the daemon's
    ``insecure-registries`` (loopback registries are always allowed), not per command."""

    name = "docker"
    install_hint = (
        "in Bitbucket Pipelines add `services: [docker]` to the step (Bitbucket mounts the docker CLI "
        "into the pipekit base image); elsewhere use --container-tool buildah, which the base image ships"
    )

    def inspect(self, ref: str) -> dict[str, Any]:
        out = self._run([self.executable, "image", "inspect", "--format", "{{json .}}", ref])
        data = json.loads(out.strip().splitlines()[0]) if out.strip() else {}
        return _normalise(
            data.get("Id"),
            (data.get("Config") or {}).get("Labels"),
            data.get("RepoTags"),
            data.get("RepoDigests"),
            raw=data,
        )

    def push_argv(
        self, ref: str, dest: str, *, tls_verify: bool = True, digestfile: Path | None = None
    ) -> list[str]:
        return [self.executable, "push", dest]

    def push(self, ref: str, dest: str, *, tls_verify: bool = True) -> str | None:
        if ref != dest:
            self.tag(ref, dest)
        out = self._run(self.push_argv(ref, dest, tls_verify=tls_verify))
        found = _DIGEST.findall(out)
        return found[-1] if found else None

    def login_argv(self, registry: str, username: str, *, tls_verify: bool = True) -> list[str]:
        return [self.executable, "login", "--username", username, "--password-stdin", registry]


class Buildah(ContainerTool):
    """buildah: daemonless, works as root without a registry for ``FROM scratch`` images."""

    name = "buildah"
    install_hint = (
        "the pipekit base image ships buildah (Debian package buildah); run as root or with fuse-overlayfs"
    )
    build_command = "bud"

    def inspect(self, ref: str) -> dict[str, Any]:
        data = json.loads(self._run([self.executable, "inspect", "--type", "image", ref]))
        config = (data.get("OCIv1") or {}).get("config") or {}
        names = self._names(str(data.get("FromImageID") or "")) or [str(data.get("FromImage") or ref)]
        return _normalise(
            data.get("FromImageID"),
            config.get("Labels"),
            names,
            [],
            raw=data,
            digest=data.get("FromImageDigest"),
        )

    def _names(self, image_id: str) -> list[str]:
        if not image_id:
            return []
        listed = json.loads(self._run([self.executable, "images", "--json", "--no-trunc", image_id]) or "[]")
        return [n for item in listed or [] for n in item.get("names") or []]

    def push_argv(
        self, ref: str, dest: str, *, tls_verify: bool = True, digestfile: Path | None = None
    ) -> list[str]:
        argv = [self.executable, "push"]
        if not tls_verify:
            argv.append("--tls-verify=false")
        if digestfile is not None:
            argv += ["--digestfile", str(digestfile)]
        return [*argv, ref, _transport(dest)]


class Podman(Buildah):
    """podman: the same image store and flags as buildah, docker-like commands."""

    name = "podman"
    install_hint = (
        "podman is not in the pipekit base image: install it (apt package podman) "
        "or use --container-tool buildah"
    )
    build_command = "build"

    def inspect(self, ref: str) -> dict[str, Any]:
        listed = json.loads(self._run([self.executable, "image", "inspect", ref]) or "[]")
        data = listed[0] if listed else {}
        return _normalise(
            data.get("Id"),
            data.get("Labels"),
            data.get("RepoTags"),
            data.get("RepoDigests"),
            raw=data,
            digest=data.get("Digest"),
        )


def _transport(dest: str) -> str:
    """A bare ``registry/repo:tag`` gets the ``docker://`` transport; explicit transports stay."""
    if "://" in dest or dest.startswith(("oci:", "oci-archive:", "docker-archive:", "dir:")):
        return dest
    return f"docker://{dest}"


def _normalise(
    image_id: Any, labels: Any, names: Any, repo_digests: Any, *, raw: dict[str, Any], digest: Any = None
) -> dict[str, Any]:
    image_id = str(image_id or "")
    if image_id and not image_id.startswith("sha256:"):
        image_id = f"sha256:{image_id}"
    names_list = [str(n) for n in names or []]
    return {
        "id": image_id,
        "labels": dict(labels or {}),
        "names": names_list,
        "tags": [n.rsplit(":", 1)[1] for n in names_list if ":" in n.rsplit("/", 1)[-1]],
        "repo_digests": [str(d) for d in repo_digests or []],
        "digest": str(digest) if digest else None,
        "raw": raw,
    }


TOOLS: dict[str, type[ContainerTool]] = {"docker": Docker, "buildah": Buildah, "podman": Podman}


def get_tool(
    name: str = "docker",
    *,
    output: LineSink | None = None,
    executable: str | None = None,
    env: dict[str, str] | None = None,
) -> ContainerTool:
    """The container tool called ``name``: docker, buildah or podman (anything else: :class:`BadInput`)."""
    cls = TOOLS.get((name or "").strip().lower())
    if cls is None:
        raise BadInput(f"unknown container tool {name!r}: choose one of {', '.join(TOOLS)}")
    return cls(executable, output=output, env=env)
