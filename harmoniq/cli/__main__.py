"""``python -m harmoniq.cli``: same as the ``harmoniq`` command."""

from harmoniq.cli import main

main()
