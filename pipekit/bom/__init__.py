"""SBOMs: what Maven resolved and what an image holds, listed by OWASP CycloneDX's cdxgen.

- :mod:`.maven`: the dependency tree the build resolved, read from Maven's own debug output.
- :mod:`.mvn_shim`: answers cdxgen's ``mvn dependency:tree`` with that tree (no plugin download).
- :mod:`.cdxgen`: runs cdxgen on a Maven project or an image archive.
- :mod:`.image`: a local image saved as an archive cdxgen reads.
- :mod:`.merge`: one CycloneDX document out of cdxgen's two.
"""
