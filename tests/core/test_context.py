from pathlib import Path

import pytest

from pipekit.core.context import PipelineContext

BASE = {
    "BITBUCKET_COMMIT": "0123456789abcdef0123456789abcdef01234567",
    "BITBUCKET_BUILD_NUMBER": "42",
    "BITBUCKET_REPO_SLUG": "orders-api",
    "BITBUCKET_WORKSPACE": "acme",
    "BITBUCKET_REPO_FULL_NAME": "acme/orders-api",
    "BITBUCKET_GIT_HTTP_ORIGIN": "http://bitbucket.org/acme/orders-api",
    "BITBUCKET_PIPELINE_UUID": "{p-uuid}",
    "BITBUCKET_STEP_UUID": "{s-uuid}",
}


@pytest.mark.parametrize(
    "extra, kind, ref",
    [
        ({"BITBUCKET_BRANCH": "main"}, "branch", "main"),
        ({"BITBUCKET_TAG": "v1.2.3"}, "tag", "v1.2.3"),
        (
            {
                "BITBUCKET_BRANCH": "feature/x",
                "BITBUCKET_PR_ID": "17",
                "BITBUCKET_PR_DESTINATION_BRANCH": "main",
            },
            "pull-request",
            "feature/x",
        ),
        ({"BITBUCKET_BRANCH": "main", "BITBUCKET_DEPLOYMENT_ENVIRONMENT": "qa"}, "deployment", "main"),
        ({"BITBUCKET_BRANCH": "custom-run"}, "branch", "custom-run"),
    ],
)
def test_build_matrix(extra, kind, ref, tmp_path: Path):
    ctx = PipelineContext.from_env({**BASE, **extra}, cwd=tmp_path)
    assert ctx.kind == kind
    assert ctx.ref_name == ref
    assert ctx.short_sha == "0123456"
    assert ctx.pipeline_url == "http://bitbucket.org/acme/orders-api/pipelines/results/42/steps/%7Bs-uuid%7D"
    assert ctx.commit_url.endswith("/commits/" + BASE["BITBUCKET_COMMIT"])
    if kind == "pull-request":
        assert ctx.pr_url == "http://bitbucket.org/acme/orders-api/pull-requests/17"
    else:
        assert ctx.pr_url is None


def test_tag_build_has_no_branch_even_in_a_checkout(git_repo: Path):
    ctx = PipelineContext.from_env({**BASE, "BITBUCKET_TAG": "v1"}, cwd=git_repo)
    assert ctx.branch is None and ctx.tag == "v1"


def test_after_script_failed_exit_code(tmp_path: Path):
    ctx = PipelineContext.from_env(
        {**BASE, "BITBUCKET_BRANCH": "main", "BITBUCKET_EXIT_CODE": "1"}, cwd=tmp_path
    )
    assert ctx.failed and ctx.exit_code == 1
    ok = PipelineContext.from_env({**BASE, "BITBUCKET_EXIT_CODE": "0"}, cwd=tmp_path)
    assert not ok.failed


def test_local_fallback_reads_git(git_repo: Path):
    ctx = PipelineContext.from_env({}, cwd=git_repo)
    assert ctx.kind == "local"
    assert ctx.branch == "main"
    assert ctx.author == "Dev Eloper"
    assert ctx.subject == "Add the service"
    assert ctx.commit and len(ctx.commit) == 40
    assert ctx.repo_slug == "service"
    assert ctx.pipeline_url is None


def test_outside_git_everything_optional(tmp_path: Path):
    ctx = PipelineContext.from_env({}, cwd=tmp_path)
    assert ctx.commit is None and ctx.kind == "local"


def test_detached_checkout_has_no_branch(git_repo: Path):
    from tests.conftest import git

    git("checkout", "-q", "--detach", cwd=git_repo)
    ctx = PipelineContext.from_env({}, cwd=git_repo)
    assert ctx.branch is None and ctx.commit and ctx.repo_slug == "service"
