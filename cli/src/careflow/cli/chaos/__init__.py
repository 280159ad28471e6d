"""``careflow chaos`` and ``careflow soak``: the whole platform under load while parts of it
fail (issue 16). ``run`` orchestrates; ``load`` drives cases; ``faults`` injects; ``checks``
holds the invariants afterwards; ``gateways`` plays notify's SMS gateway and SMTP server."""
