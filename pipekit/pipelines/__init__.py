"""Bitbucket Pipelines, run locally under Bitbucket's rules (``pipekit run-pipeline``).

``document`` reads ``bitbucket-pipelines.yml`` keeping line numbers, ``parse`` turns it into the
``model`` (refusing what Bitbucket refuses), ``selection`` picks the pipeline a trigger starts,
``variables`` builds each step's environment, ``artifacts``, ``caches``, ``cloning`` and
``services`` do what Bitbucket's build set-up and teardown do, ``execution`` runs a step's
script in its image (or on this machine), ``executor`` walks the pipeline and ``report`` tells
the result. ``explain`` is the table of what is emulated and how.
"""
