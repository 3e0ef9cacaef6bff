"""``python -m genmodels`` runs the command line."""

from genmodels.cli.main import main

main()
