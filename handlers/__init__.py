"""Lambda entry points. Each is thin: parse the event, make one call into ``ecomlake``, return.

Deployed with the ``ecomlake`` package beside them; the handler names are
``handlers.<module>.handler``.
"""
