"""update-tag against hostile or careless GitOps repositories and inputs: refuse, push nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_pipekit
from tests.fixtures.gitops.repo import IMAGE, git, make_repo, overlay

ORDERS = IMAGE.format(service="orders")
DEV = "orders/overlays/dev"


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, Path]:
    return make_repo(tmp_path, ["orders"])


def commit_push(work: Path, message: str = "change") -> None:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    bare = work.parent / "gitops.git"
    git("push", "-q", str(bare), "HEAD:main", cwd=work)


def update(bare: Path, *args: str, env: dict[str, str] | None = None):
    return run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(bare),
        "--path",
        DEV,
        "--image",
        ORDERS,
        "--renderer",
        "none",
        *args,
        env=env,
    )


def head(bare: Path) -> str:
    return git("rev-parse", "main", cwd=bare)


# -- defect 3: symlinks out of the clone ----------------------------------------------
@pytest.mark.parametrize("what", ["kustomization", "overlay-dir", "values"])
def test_a_symlink_leaving_the_clone_is_refused_and_the_target_untouched(
    seeded, tmp_path: Path, what: str
) -> None:
    bare, work = seeded
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "kustomization.yaml"
    original = (work / overlay("orders", "dev")).read_text()
    victim.write_text(original)
    if what == "kustomization":
        (work / overlay("orders", "dev")).unlink()
        os.symlink(str(victim), work / overlay("orders", "dev"))
        args: tuple[str, ...] = ("--tag", "1234567")
    elif what == "overlay-dir":
        import shutil

        shutil.rmtree(work / DEV)
        os.symlink(str(outside), work / DEV)
        args = ("--tag", "1234567")
    else:
        (victim.parent / "values.yaml").write_text("image:\n  tag: old\n")
        os.symlink(str(victim.parent / "values.yaml"), work / DEV / "values.yaml")
        args = ("--tag", "1234567", "--values-file", "values.yaml", "--key", "image.tag")
    commit_push(work, "a link out of the repository")
    before = head(bare)
    proc = update(bare, *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "symlink" in proc.stderr and DEV in proc.stderr
    assert head(bare) == before
    assert victim.read_text() == original
    if what == "values":
        assert (victim.parent / "values.yaml").read_text() == "image:\n  tag: old\n"


def test_a_symlink_inside_the_clone_is_still_followed(seeded) -> None:
    bare, work = seeded
    link = work / overlay("orders", "dev")
    link.rename(work / DEV / "kustomization.main.yaml")
    os.symlink("kustomization.main.yaml", link)
    commit_push(work)
    proc = update(bare, "--tag", "1234567")
    assert proc.returncode == 0, proc.stderr
    assert "1234567" in git("show", f"main:{DEV}/kustomization.main.yaml", cwd=bare)
    assert git("ls-tree", "main", f"{DEV}/kustomization.yaml", cwd=bare).startswith("120000")  # still a link


# -- defect 7: duplicate images entries -----------------------------------------------
DUPLICATES = {
    "two entries": (
        "  - name: docker.io/library/busybox",
        f'  - name: {ORDERS}\n    newTag: "0000009"\n  - name: docker.io/library/busybox',
        "duplicate images entry",
    ),
    "newTag twice": (
        '    newTag: "0000001"   # short sha, quoted',
        '    newTag: "0000001"\n    newTag: "0000009"',
        "duplicate key 'newTag'",
    ),
    "images twice": (
        "# trailing comment",
        f'images:\n  - name: {ORDERS}\n    newTag: "0000009"\n',
        "duplicate key 'images'",
    ),
}


@pytest.mark.parametrize("case", list(DUPLICATES))
def test_duplicate_images_entries_are_exit_2_naming_them_and_nothing_is_pushed(seeded, case: str) -> None:
    bare, work = seeded
    old, new, message = DUPLICATES[case]
    path = work / overlay("orders", "dev")
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    commit_push(work)
    before = head(bare)
    proc = update(bare, "--tag", "1234567")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "kustomization.yaml:" in proc.stderr
    assert head(bare) == before


# -- defect 12: line endings, bad --image, negative build number, whole clone message ----
@pytest.mark.slow
def test_a_crlf_kustomization_keeps_its_line_endings(seeded) -> None:
    bare, work = seeded
    path = work / overlay("orders", "dev")
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    git("config", "core.autocrlf", "false", cwd=work)
    commit_push(work)
    proc = update(bare, "--tag", "1234567")
    assert proc.returncode == 0, proc.stderr
    after = git("show", f"main:{overlay('orders', 'dev')}", cwd=bare) + "\n"
    raw = (
        __import__("subprocess")
        .run(["git", "show", f"main:{overlay('orders', 'dev')}"], cwd=bare, capture_output=True, check=True)
        .stdout
    )
    assert b"\n" not in raw.replace(b"\r\n", b"")
    diff = git("diff", "--numstat", "main~1", "main", cwd=bare)
    assert diff.split()[:2] == ["1", "1"], diff
    assert "1234567" in after


@pytest.mark.parametrize("image", [f"{ORDERS}\nPipekit-Environment: prod", " ", "a b", "-rf"])
def test_a_bad_image_name_is_exit_2_before_cloning(seeded, image: str) -> None:
    bare, _ = seeded
    before = head(bare)
    proc = run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(bare),
        "--path",
        DEV,
        "--image",
        image,
        "--tag",
        "1234567",
        "--renderer",
        "none",
    )
    assert proc.returncode == 2, proc.stderr
    assert "--image" in proc.stderr
    assert head(bare) == before


def test_a_negative_build_number_is_refused(seeded) -> None:
    bare, _ = seeded
    proc = update(bare, "--tag", "1234567", "--build-number", "-5")
    assert proc.returncode == 2, proc.stderr
    assert "--build-number" in proc.stderr


def test_a_clone_failure_shows_gits_whole_message(tmp_path: Path) -> None:
    proc = run_pipekit(
        "update-tag",
        "--gitops-repo",
        str(tmp_path / "missing.git"),
        "--path",
        DEV,
        "--image",
        ORDERS,
        "--tag",
        "1234567",
        "--renderer",
        "none",
    )
    assert proc.returncode == 3, proc.stderr
    assert "does not appear to be a git repository" in proc.stderr
    assert "and the repository exists" in proc.stderr
