from tests.conftest import run_pipekit


def test_help_lists_every_step():
    out = run_pipekit("--help")
    assert out.returncode == 0
    for step in [
        "build",
        "scan",
        "ecr-push",
        "update-tag",
        "promote",
        "wait-for-argocd",
        "notify",
        "rehearse",
    ]:
        assert step in out.stdout


def test_unknown_step_is_usage_error():
    out = run_pipekit("no-such-step")
    assert out.returncode == 2
