"""The command-line tools: argument parsing, the flow a person sees, one-line errors.

Importing this package changes nothing for the process. What a command line needs and a
user's own program must not get (TensorFlow's C++ log lines filtered out of stderr,
Ctrl-C as one line) is set up by the entry points in `main.py` (`run_command`), around the
command only. `KERASGAN_VERBOSE_TF=1` shows TensorFlow's log lines.
"""
