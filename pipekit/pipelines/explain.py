"""What ``run-pipeline`` emulates and how, and what differs from Bitbucket Cloud (``--explain``,
docs/run_pipeline.md)."""

from __future__ import annotations

# (what, how it is emulated here, what differs from Bitbucket Cloud)
ROWS: list[tuple[str, str, str]] = [
    (
        "pipeline file",
        "keywords checked against Atlassian's documentation (a typo is exit 2 with its line); Atlassian's "
        "schema too when PIPEKIT_SCHEMAS_DIR holds it; anchors and <<: merges resolved",
        "the file is read from your working tree (a warning when it differs from the commit's)",
    ),
    (
        "which pipeline runs",
        "a literal branch/tag name wins over globs, then the longest matching glob; default for branches "
        "only; pull-requests match the source branch (destinations: the destination); custom only when named",
        "the trigger is given with --trigger instead of a push; [skip ci] is not read",
    ),
    (
        "clone",
        "a fresh clone of the commit per step from the local repository, depth 50 (clone: depth, full), the "
        "branch checked out at the commit, a pull request merged with its destination; "
        "enabled: false = empty",
        "lfs is refused; the origin remote is the local repository, not bitbucket.org",
    ),
    (
        "image",
        "the step's (or the global) image when a local image has that name or --image-map names one: the "
        "commands run inside it with buildah (chroot), as the image's user (or run-as-user), who owns the "
        "clone, the caches and the docker socket; a missing tool fails the step",
        "nothing is pulled; with no local image the step runs on this machine, with a warning that the "
        "image's tools were not checked; image credentials are not used "
        "(an aws oidc-role image needs oidc: true)",
    ),
    (
        "environment",
        "only Bitbucket's default variables for the trigger, your --variables files (workspace < repository "
        "< custom < deployment) and, on this machine, PATH, HOME (a fresh folder), TMPDIR and LANG",
        "UUIDs are stable local ones; BITBUCKET_PR_ID is 1; the build number counts runs in the cache folder",
    ),
    (
        "secured variables",
        "masked (***) in the live log, the step logs and --json",
        "they are in the step's environment file for the length of the step",
    ),
    (
        "script and after-script",
        "one shell (bash if present), set -e, '+ command' printed before each; after-script always, with "
        "BITBUCKET_EXIT_CODE, its failure logged and not changing the step's result",
        "none known",
    ),
    (
        "max-time",
        "the step (script and after-script) is stopped when it passes max-time (default 120 minutes)",
        "Bitbucket's build minutes and queueing are not modelled",
    ),
    (
        "artifacts",
        "after a step succeeds, the files its globs match (relative to the clone) are kept and copied into "
        "every later step's clone; download: false / a list of names; "
        "named uploads honour capture-on and type",
        "the later step in the file wins when two keep the same path (undefined on Bitbucket for parallel "
        "steps); no 1 GB limit, no 14-day expiry",
    ),
    (
        "caches",
        "predefined (composer, dotnetcore, gradle, ivy2, maven, node, pip, sbt) and definitions.caches (with "
        "key: files), restored at the start, saved after success only when that cache (key) does not exist; "
        "kept in --cache-dir across runs, --clear-caches empties them",
        "the docker cache is not emulated; no expiry after a week, no 1 GB limit; an absolute cache path is "
        "only used inside an image",
    ),
    (
        "docker service",
        "a podman Docker API daemon of the step's own (empty image store), DOCKER_HOST set, the docker CLI "
        "mounted into the image; images built in one step are gone in the next",
        "no memory limit; podman, not Docker Engine, answers the API: registries on 127.0.0.1 and localhost "
        "speak plain HTTP (Docker's default), but podman logs in over plain HTTP only to localhost:PORT",
    ),
    (
        "other services",
        "started from their local image with buildah for the length of the step, on the step's network",
        "a service whose image is not local fails the step; memory is not limited",
    ),
    (
        "deployments",
        "BITBUCKET_DEPLOYMENT_ENVIRONMENT and the environment's variables; one environment used twice in a "
        "pipeline is refused; an environment missing from a variables file's deployments is refused",
        "no deployment permissions, locks or concurrency control; "
        "the environment types' order is not checked",
    ),
    (
        "manual steps",
        "the run pauses before a manual step (or manual stage) unless --approve names it or its environment, "
        "or you say yes at the prompt; --from that step in the same --workdir continues, "
        "with the kept artifacts",
        "a manual first step is refused (custom pipelines excepted), as Bitbucket refuses it",
    ),
    (
        "parallel groups",
        "the steps run at the same time (at most one per core); fail-fast stops the others when one fails",
        "Bitbucket runs each on its own machine",
    ),
    (
        "conditions and stages",
        "condition: changesets (includePaths / excludePaths) against the commit's changes (a pull request: "
        "everything not on its destination); a stage's deployment, "
        "manual trigger and condition apply to its steps",
        "Bitbucket compares a push with the commits it brought; here the commit with its first parent",
    ),
    (
        "OIDC",
        "oidc: true sets BITBUCKET_STEP_OIDC_TOKEN, a JWT with Bitbucket's claims (iss, aud, sub, UUIDs)",
        "it is signed by a key of this run, not Bitbucket's issuer: real AWS rejects it, stand-ins accept it",
    ),
    (
        "pipes",
        "a pipe runs only when --image-map gives a local image for it (the pipe's variables and BITBUCKET_* "
        "variables set, the clone mounted)",
        "without a local image a pipe line fails its step; shell state does not carry across a pipe line",
    ),
    (
        "not emulated",
        "size, runs-on, runtime, options.size, triggers, imports, export, labels",
        "runner sizes, self-hosted runners, networking (services and steps share this machine's network), "
        "the OIDC issuer, cache and artifact expiry",
    ),
]


def text() -> str:
    lines = []
    for what, how, differs in ROWS:
        lines.append(f"{what}\n  emulated: {how}\n  differs:  {differs}")
    return "\n".join(lines)


def markdown() -> str:
    out = ["| what | how run-pipeline emulates it | what differs from Bitbucket Cloud |", "|---|---|---|"]
    out += [f"| {what} | {how} | {differs} |" for what, how, differs in ROWS]
    return "\n".join(out)
