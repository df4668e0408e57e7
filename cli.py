"""Run the genoattn command line from a checkout: ``python cli.py --help``.

The installed console script ``genoattn`` runs the same app from ``genoattn.cli.app``; this file is
not part of the installed package, so installing never puts a top-level ``cli`` module on the path.
"""

from genoattn.cli.app import main

if __name__ == "__main__":
    main()
