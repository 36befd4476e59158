"""CLI commands, one module each; each module exposes ``register(app)``.

Commands are thin: parse options, call the owning module of ``ecomlake``, print.
"""
