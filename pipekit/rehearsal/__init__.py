"""``pipekit rehearse``'s parts: the stages (:mod:`.stages`), the temporary world and the local
stand-ins (:mod:`.workspace`), the embedded sample service (``sample/``) and scan report."""
