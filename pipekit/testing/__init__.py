"""Local stand-ins for outside systems, for tests and for rehearsing a pipeline on a laptop.

Each lives in its own module (imported by name; importing this package loads nothing heavy),
for example :mod:`pipekit.testing.sink`: a webhook sink (Teams Workflows / Slack incoming
webhooks) on 127.0.0.1 that records every request and can be told to answer 429 with
``Retry-After``, 5xx, or slowly (``python -m pipekit.testing.sink`` runs it from a shell).
"""


def serve_until_interrupted() -> None:
    """Block until Ctrl-C or SIGTERM (the ``python -m pipekit.testing.*`` entry points keep their
    server up with it, then stop it)."""
    import signal
    import threading

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
