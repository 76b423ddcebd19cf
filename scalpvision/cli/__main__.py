"""`python -m scalpvision.cli`."""

from scalpvision.cli import main

main()
