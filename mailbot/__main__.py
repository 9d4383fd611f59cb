"""`python -m mailbot`: the same command line as the `mailbot` script."""

from mailbot.cli import run

if __name__ == "__main__":
    run()
