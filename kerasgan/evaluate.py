"""`python -m kerasgan.evaluate ...`: the same as `kerasgan evaluate ...` (kerasgan/commands/evaluate.py)."""

if __name__ == "__main__":
    from kerasgan.commands.main import script

    script("evaluate")
