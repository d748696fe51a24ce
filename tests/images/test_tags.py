"""The documented tag scheme, Docker's tag/name/label rules, and the Maven version from pom.xml."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipekit.core.errors import BadInput, ExitCode
from pipekit.images import tags as imagetags
from pipekit.images.tags import TagInputs, compute_tags

FIXTURES = Path(__file__).parents[1] / "fixtures" / "java"
SHA = "3f9a2c1d4e5b6a7980123456789abcdef0123456"


def test_branch_build_tags_in_documented_order() -> None:
    tags = compute_tags(
        TagInputs(commit=SHA, build_number="42", version="1.4.2", branch="feature/JIRA-12 New thing")
    )
    assert tags == ["3f9a2c1", "build-42", "1.4.2", "feature-jira-12-new-thing"]


def test_snapshot_version_carries_the_sha_so_it_stays_immutable() -> None:
    assert compute_tags(TagInputs(commit=SHA, version="2.0.0-SNAPSHOT"), ["version"]) == [
        "2.0.0-SNAPSHOT-3f9a2c1"
    ]


@pytest.mark.parametrize(
    ("git_tag", "expected"),
    [
        ("v1.2.3", ["1.2.3", "1.2", "1"]),
        ("1.2.3", ["1.2.3", "1.2", "1"]),
        ("v1.2.3-rc.1", ["1.2.3-rc.1"]),
        ("v1.2.3+build.7", ["1.2.3", "1.2", "1"]),
        ("release/2026-11", ["release-2026-11"]),
    ],
)
def test_semver_tags_on_tag_builds(git_tag: str, expected: list[str]) -> None:
    tags = compute_tags(TagInputs(commit=SHA, git_tag=git_tag, branch="main"), ["sha", "branch", "semver"])
    assert tags == ["3f9a2c1", *expected]  # no branch tag on a tag build


def test_duplicates_removed_and_extra_tags_last() -> None:
    tags = compute_tags(TagInputs(commit=SHA, version="1.2.3", git_tag="v1.2.3"), extra=["latest", "1.2.3"])
    assert tags == ["3f9a2c1", "1.2.3", "1.2", "1", "latest"]


def test_sha_length_and_unknown_kind() -> None:
    assert compute_tags(TagInputs(commit=SHA, sha_length=12), ["sha"]) == ["3f9a2c1d4e5b"]
    with pytest.raises(BadInput, match="unknown tag kind 'date'"):
        compute_tags(TagInputs(commit=SHA), ["sha", "date"])


@pytest.mark.parametrize("bad", ["", "-leading", ".dot", "has space", "ümlaut", "a/b", "a:b", "x" * 129])
def test_docker_refuses_these_tags(bad: str) -> None:
    with pytest.raises(BadInput) as info:
        imagetags.validate_tag(bad)
    assert info.value.exit_code == ExitCode.BAD_INPUT and repr(bad) in str(info.value)


def test_tag_limits_accepted() -> None:
    assert imagetags.validate_tag("_" + "a" * 127) == "_" + "a" * 127
    assert imagetags.validate_tag("1.2.3-rc_1") == "1.2.3-rc_1"


def test_bad_version_from_pom_is_refused_before_building() -> None:
    with pytest.raises(BadInput, match="'1.0 final' is not a valid Docker tag"):
        compute_tags(TagInputs(version="1.0 final"))


@pytest.mark.parametrize(
    ("branch", "safe"),
    [
        ("Feature/ABC-1_Do.Thing", "feature-abc-1_do.thing"),
        ("--weird//name..", "weird-name"),
        ("über/straße", "uber-stra-e"),
        ("!!!", "unnamed"),
    ],
)
def test_branch_safe_names(branch: str, safe: str) -> None:
    assert imagetags.safe_name(branch) == safe


def test_long_branch_names_are_cut_to_128_and_stay_distinct() -> None:
    a = imagetags.safe_name("feature/" + "x" * 200 + "-a")
    b = imagetags.safe_name("feature/" + "x" * 200 + "-b")
    assert len(a) <= 128 and len(b) <= 128 and a != b
    assert imagetags.TAG_RE.fullmatch(a)


@pytest.mark.parametrize(
    "name",
    [
        "greeter",
        "acme/greeter",
        "localhost:5000/acme/greeter",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/greeter-svc",
        "a__b",
    ],
)
def test_valid_image_names(name: str) -> None:
    assert imagetags.validate_name(name) == name


@pytest.mark.parametrize("name", ["Greeter", "greeter:1.0", "acme//greeter", "-greeter", "greeter-", ""])
def test_invalid_image_names(name: str) -> None:
    with pytest.raises(BadInput, match="is not a valid image name"):
        imagetags.validate_name(name)


def test_labels_rules() -> None:
    assert imagetags.validate_labels({"com.acme.team": "payments ✓", "tabs": "a\tb"})
    with pytest.raises(BadInput, match=r"label key 'bad key' is not valid"):
        imagetags.validate_labels({"bad key": "x"})
    with pytest.raises(
        BadInput, match=r"label note: value 'line\\none' contains the control character '\\n'"
    ):
        imagetags.validate_labels({"note": "line\none"})
    with pytest.raises(BadInput, match="more than 4096"):
        imagetags.validate_labels({"big": "x" * 5000})


def test_oci_labels_leave_out_unknown_values() -> None:
    labels = imagetags.oci_labels(
        revision=SHA, source=None, created="2026-11-26T10:00:00Z", version="1.0", title="greeter"
    )
    assert labels == {
        "org.opencontainers.image.revision": SHA,
        "org.opencontainers.image.created": "2026-11-26T10:00:00Z",
        "org.opencontainers.image.version": "1.0",
        "org.opencontainers.image.title": "greeter",
    }


# -- Maven version ------------------------------------------------------------------
def test_version_of_the_sample_services() -> None:
    assert imagetags.maven_version(FIXTURES / "service" / "pom.xml") == "1.4.2"  # ${revision} from properties
    assert imagetags.maven_version(FIXTURES / "multi" / "pom.xml") == "2.0.0-SNAPSHOT"
    # a module: version from <parent><version>${revision}</version>, resolved in the parent pom
    assert imagetags.maven_version(FIXTURES / "multi" / "app" / "pom.xml") == "2.0.0-SNAPSHOT"


def test_command_line_property_overrides_the_pom() -> None:
    overrides = imagetags.maven_overrides(["-B", "-Drevision=3.1.0", "-D", "changelist=-rc1", "-Dflag"])
    assert overrides == {"revision": "3.1.0", "changelist": "-rc1"}
    assert imagetags.maven_version(FIXTURES / "service" / "pom.xml", overrides) == "3.1.0"


def test_nested_properties_and_parent_version(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text(
        "<project><groupId>g</groupId><artifactId>p</artifactId><version>${revision}${changelist}</version>"
        "<properties><revision>${major}.4</revision><major>5</major><changelist>-SNAPSHOT</changelist>"
        "</properties></project>"
    )
    assert imagetags.maven_version(tmp_path / "pom.xml") == "5.4-SNAPSHOT"
    child = tmp_path / "child"
    child.mkdir()
    (child / "pom.xml").write_text(
        "<project><parent><groupId>g</groupId><artifactId>p</artifactId>"
        "<version>7.0.1</version><relativePath/></parent><artifactId>c</artifactId>"
        "</project>"
    )
    assert imagetags.maven_version(child / "pom.xml") == "7.0.1"


def test_undefined_property_is_bad_input_naming_it(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project><artifactId>x</artifactId><version>${revision}</version></project>")
    with pytest.raises(BadInput) as info:
        imagetags.maven_version(pom)
    assert (
        "${revision}" in str(info.value) and str(pom) in str(info.value) and "-Drevision" in str(info.value)
    )


def test_malformed_pom_names_file_and_line(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project>\n  <version>1</version>\n  <oops>\n</project>\n")
    with pytest.raises(BadInput, match=rf"{pom}:4:\d+: pom.xml is not valid XML"):
        imagetags.maven_version(pom)
