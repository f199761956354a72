"""`python -m kerasgan.client ...`: the same as `kerasgan client ...` (kerasgan/commands/client.py)."""

if __name__ == "__main__":
    from kerasgan.commands.main import script

    script("client")
