"""The application layer: the ``stridelab`` command. :mod:`~stridelab.app.cli` parses the command line with tyro
and runs one module per command (``list``, ``bench``, ``train``, ``eval``, ``play``, ``export``, ``deploy``,
``robot``, ``terrain``, ``etg``), each holding the command's option dataclass and what it prints.

Nothing below this package imports it; a new command is one module here and one name in
:data:`stridelab.app.cli.COMMANDS`.
"""
