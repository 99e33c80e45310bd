"""The demo: a client of Polku's published API (``polku.client``, ``contracts``, the streams).

``polku up --demo`` runs :func:`demo.main.run` through the entry point group ``polku.demo``
once the stack is up. The demo imports no service: what it needs to know it reads from the
replies and from the published events, as a client information system would.
"""
