"""``python -m knnvision`` is the ``knnvision`` command."""

from .cli import main

main()
