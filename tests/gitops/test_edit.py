"""Surgical edits of hand-kept kustomization and values files: only the changed lines move."""

from __future__ import annotations

import difflib

import jsonschema
import pytest
import yaml

from pipekit.core.errors import BadInput, CheckFailed
from pipekit.gitops import helm_values, kustomization
from pipekit.gitops import overlay as ov
from pipekit.gitops import yamledit as ye
from pipekit.gitops.kustomization import ImageRef
from tests.conftest import load_schema
from tests.fixtures.gitops.repo import LAYOUT

IMG = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders"
D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64


def overlay_text(env: str) -> str:
    return (LAYOUT / "overlays" / env / "kustomization.yaml").read_text().replace("SERVICE", "orders")


def changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) of a line diff."""
    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


def assert_schema_valid(text: str) -> None:
    schema = load_schema("kustomization.schema.json")
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load(text))


def test_tag_edit_touches_only_the_tag_line_and_keeps_quotes_and_comments() -> None:
    before = overlay_text("dev")
    after, old = kustomization.set_image(before, "dev.yaml", ImageRef(IMG, new_tag="7654321"))
    removed, added = changed(before, after)
    assert removed == ['    newTag: "0000001"   # short sha, quoted']
    assert added == ['    newTag: "7654321"   # short sha, quoted']
    assert old is not None and old.new_tag == "0000001"
    assert yaml.safe_load(after)["images"][0]["newTag"] == "7654321"
    assert_schema_valid(after)


def test_adding_a_digest_inserts_one_line_with_the_sibling_indentation() -> None:
    before = overlay_text("dev")
    after, _ = kustomization.set_image(
        before, "dev.yaml", ImageRef(IMG, new_tag="v1.2.3", digest=D1, build=41)
    )
    removed, added = changed(before, after)
    assert removed == ['    newTag: "0000001"   # short sha, quoted']
    assert added == ['    newTag: "v1.2.3"   # short sha, quoted  # pipekit:build=41', f"    digest: {D1}"]
    lines = after.splitlines()
    assert lines[lines.index(f"    digest: {D1}") + 1] == "    # the digest goes below when known"
    assert_schema_valid(after)


@pytest.mark.parametrize(
    "tag, written",
    [
        ("1234567", '"1234567"'),
        ("true", '"true"'),
        ("1.5", '"1.5"'),
        ("1e3", '"1e3"'),
        ("0x1F", '"0x1F"'),
        ("0b101", '"0b101"'),
        ("0o17", '"0o17"'),
        ("null", '"null"'),
        ("v1.2.3", "v1.2.3"),
        ("abc1234", "abc1234"),
        ("0b05292", "0b05292"),
        ("2024-01-01", '"2024-01-01"'),
    ],
)
def test_newtag_is_always_written_as_a_string(tag: str, written: str) -> None:
    before = overlay_text("prod")  # prod has a plain (unquoted) newTag
    after, _ = kustomization.set_image(before, "prod.yaml", ImageRef(IMG, new_tag=tag, digest=D1))
    assert f"    newTag: {written}\n" in after
    assert yaml.safe_load(after)["images"][0]["newTag"] == tag
    kustomization.check(after, "prod.yaml")
    assert_schema_valid(after)


def test_single_quote_style_is_kept() -> None:
    before = overlay_text("qa")
    after, _ = kustomization.set_image(before, "qa.yaml", ImageRef(IMG, new_tag="0042", digest=D1))
    removed, added = changed(before, after)
    assert added == ["  newTag: '0042'     # quoted the old way", f"  digest: {D1}"]
    assert len(removed) == 2


def test_tag_only_update_removes_a_stale_digest() -> None:
    before = overlay_text("prod")
    after, _ = kustomization.set_image(before, "prod.yaml", ImageRef(IMG, new_tag="v0.9.0"))
    removed, added = changed(before, after)
    assert added == ["    newTag: v0.9.0"]
    assert removed[0] == "    newTag: v0.8.0" and removed[1].startswith("    digest: sha256:2222")
    assert "digest" not in yaml.safe_load(after)["images"][0]


def test_flow_style_entry_is_edited_in_place() -> None:
    before = overlay_text("preprod")
    after, _ = kustomization.set_image(before, "preprod.yaml", ImageRef(IMG, new_tag="1111111", digest=D2))
    removed, added = changed(before, after)
    assert len(removed) == 1 and len(added) == 1
    assert added[0] == (f'   - {{name: {IMG}, newTag: "1111111", digest: {D2}}}   # flow style')
    assert_schema_valid(after)


def test_unchanged_when_already_at_the_tag() -> None:
    before = overlay_text("qa")
    after, old = kustomization.set_image(
        before, "qa.yaml", ImageRef(IMG, new_tag="abc1234", digest="sha256:" + "1" * 64)
    )
    assert after == before and old is not None


def test_unquoted_all_digit_tag_is_repaired_even_when_equal() -> None:
    before = f"images:\n- name: {IMG}\n  newTag: 1234567 # oops\n"
    after, _ = kustomization.set_image(before, "k.yaml", ImageRef(IMG, new_tag="1234567"))
    assert after == f'images:\n- name: {IMG}\n  newTag: "1234567" # oops\n'
    with pytest.raises(BadInput, match=r"k.yaml:3: images\[0\].newTag must be a string"):
        kustomization.check(before, "k.yaml")


def test_missing_entry_is_an_error_unless_create() -> None:
    before = overlay_text("dev")
    with pytest.raises(CheckFailed, match="no images entry with name 'acme/payments'"):
        kustomization.set_image(before, "dev.yaml", ImageRef("acme/payments", new_tag="1"))
    after, old = kustomization.set_image(
        before, "dev.yaml", ImageRef("acme/payments", new_tag="1", digest=D1), create=True
    )
    assert old is None
    removed, added = changed(before, after)
    assert removed == []
    assert added == ["  - name: acme/payments", '    newTag: "1"', f"    digest: {D1}"]
    assert after.index("acme/payments") > after.index("newTag: '1.36'") and after.endswith(
        "# trailing comment\n"
    )
    data = yaml.safe_load(after)
    assert data["images"][-1] == {"name": "acme/payments", "newTag": "1", "digest": D1}
    assert_schema_valid(after)


def test_create_adds_an_images_section_when_there_is_none() -> None:
    before = "# no images yet\nresources:\n  - ../../base   # keep\n"
    after, _ = kustomization.set_image(before, "k.yaml", ImageRef("app", new_tag="007", build=3), create=True)
    assert after.startswith(before)
    assert after[len(before) :] == 'images:\n- name: app\n  newTag: "007"  # pipekit:build=3\n'
    assert kustomization.find(after, "k.yaml", "app") == ImageRef("app", new_tag="007", build=3)


def test_build_marker_moves_with_the_value() -> None:
    text, _ = kustomization.set_image(overlay_text("dev"), "d", ImageRef(IMG, new_tag="1", build=5))
    assert kustomization.find(text, "d", IMG).build == 5  # type: ignore[union-attr]
    text, _ = kustomization.set_image(text, "d", ImageRef(IMG, new_tag="2", build=6))
    assert text.count("pipekit:build=") == 1 and kustomization.find(text, "d", IMG).build == 6  # type: ignore[union-attr]
    text, _ = kustomization.set_image(text, "d", ImageRef(IMG, new_tag="3"))
    assert "pipekit:build" not in text and "# short sha, quoted\n" in text


def test_malformed_yaml_names_file_and_line() -> None:
    broken = "images:\n- name: app\n  newTag: [unclosed\n  digest: x\n"
    with pytest.raises(BadInput, match=r"^orders/overlays/dev/kustomization.yaml:\d+:\d+: malformed YAML"):
        kustomization.set_image(
            broken, "orders/overlays/dev/kustomization.yaml", ImageRef("app", new_tag="1")
        )


@pytest.mark.parametrize(
    "bad, message",
    [
        ("images:\n- name: a\n  digest: sha256:abc\n", "is not sha256:<64 hex>"),
        ("images:\n- newTag: '1'\n", "'name' is required"),
        ("images:\n- name: a\n  newTag: '1'\n  tag: x\n", "unknown key 'tag'"),
        ("images:\n- name: a\n  newTag: true\n", "must be a string"),
        ("images: {name: a}\n", "images must be a list"),
    ],
)
def test_structural_check(bad: str, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        kustomization.check(bad, "k.yaml")


@pytest.mark.parametrize("tag", ["", "-x", ".x", "a" * 129, "has space", "a/b", "ünïcode"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(BadInput):
        kustomization.check_tag(tag)


@pytest.mark.parametrize("digest", ["sha256:abc", "sha512:" + "a" * 64, "sha256:" + "A" * 64, "a" * 64])
def test_invalid_digests(digest: str) -> None:
    with pytest.raises(BadInput):
        kustomization.check_digest(digest)


VALUES = """\
# values for dev
replicaCount: 2
image:
  repository: acme/orders   # ECR
  tag: "1234567"            # set by the pipeline
  pullPolicy: IfNotPresent
resources: {}
"""


def test_helm_values_key_path_edit() -> None:
    after = helm_values.set_value(VALUES, "values-dev.yaml", "image.tag", "0000042", build=9)
    removed, added = changed(VALUES, after)
    assert removed == ['  tag: "1234567"            # set by the pipeline']
    assert added == ['  tag: "0000042"            # set by the pipeline  # pipekit:build=9']
    assert helm_values.read(after, "v", "image.tag") == ("0000042", 9)
    assert helm_values.set_value(after, "v", "image.tag", "0000042", build=9) == after
    with pytest.raises(CheckFailed, match="key 'image.digest' not found"):
        helm_values.set_value(VALUES, "v", "image.digest", D1)
    created = helm_values.set_value(VALUES, "v", "image.digest", D1, create=True)
    assert changed(VALUES, created) == ([], [f"  digest: {D1}"])
    with pytest.raises(CheckFailed, match="'chart' not found"):
        helm_values.set_value(VALUES, "v", "chart.image.tag", "1")


def test_scalar_text_round_trips() -> None:
    for value in ["1234567", "it's", 'say "hi"', "a: b", "#x", "x #y", " lead", "yes", "~", "v1", ""]:
        assert yaml.safe_load("k: " + ye.scalar_text(value))["k"] == value
        assert yaml.safe_load("k: " + ye.scalar_text(value, "'"))["k"] == value


def test_overlay_templates_and_references() -> None:
    assert ov.overlay_path("{service}/overlays/{env}", "qa", "orders") == "orders/overlays/qa"
    assert ov.overlay_path("overlays/{env}", "qa", None) == "overlays/qa"
    with pytest.raises(BadInput):
        ov.overlay_path("overlays/{stage}", "qa", None)
    with pytest.raises(BadInput):
        ov.overlay_path("../{env}", "qa", None)
    files = [
        "orders/overlays/dev/kustomization.yaml",
        "billing/overlays/dev/kustomization.yml",
        "billing/overlays/qa/kustomization.yaml",
        "README.md",
        "x/overlays/dev/patch.yaml",
    ]
    assert ov.services_in("{service}/overlays/{env}", "dev", files) == ["billing", "orders"]
    text = (
        "resources:\n- ../../base\n- deployment.yaml\n- https://example.com/x.yaml\ncomponents:\n"
        "- ../../../components/tls\npatches:\n- path: ../../patches/memory.yaml\n"
    )
    assert ov.referenced_dirs(text, "k", "svc/overlays/dev") == ["svc/base", "components/tls", "svc/patches"]


def test_non_ascii_comments_do_not_shift_the_edit() -> None:
    before = (
        "# Überwachung ✓ — 日本語\nimages:\n- name: app  # ünïcödé ✓✓\n  newTag: 'v1'  # ok ✓\n  digest: "
        + D1
        + "\n"
    )
    after, _ = kustomization.set_image(before, "k.yaml", ImageRef("app", new_tag="v2", digest=D2))
    assert after == before.replace("'v1'", "'v2'").replace(D1, D2)


def test_new_name_is_inserted_after_name() -> None:
    before = overlay_text("qa")
    after, _ = kustomization.set_image(
        before,
        "qa.yaml",
        ImageRef(IMG, new_name="mirror.example.com/orders", new_tag="abc1234", digest="sha256:" + "1" * 64),
    )
    assert changed(before, after) == ([], ["  newName: mirror.example.com/orders"])
    lines = after.splitlines()
    assert lines[lines.index("  newName: mirror.example.com/orders") - 1].startswith(f"- name: {IMG}")
    ref = kustomization.find(after, "qa.yaml", IMG)
    assert ref is not None and ref.reference == f"mirror.example.com/orders:abc1234@sha256:{'1' * 64}"
