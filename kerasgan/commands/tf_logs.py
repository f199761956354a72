"""TensorFlow's C++ log lines kept out of a command's output.

TensorFlow's runtime writes INFO, WARNING and ERROR lines straight to file descriptor 2 (some
before `TF_CPP_MIN_LOG_LEVEL` applies, some from Abseil's logger that it does not govern):
oneDNN notices, "could not find cuda drivers", grappler's "remapper failed" on a healthy step.
On a terminal they look like failures and bury the one line a command prints when something
is really wrong. While a command runs, fd 2 goes through a pipe whose reader drops those lines
and passes everything else on at once (partial lines too, so progress bars keep drawing).
Errors that matter also raise Python exceptions, which the command prints itself.
"""

import contextlib
import os
import re
import sys
import threading

# Abseil ("E0000 00:00:1796666082.559636    6147 meta_optimizer.cc:967] ...": month, day, then
# seconds since 1970), TensorFlow's own
# ("2026-12-07 18:00:00.123456: I tensorflow/core/...") and Abseil's pre-initialisation notice.
LOG_LINE = re.compile(rb"[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\] "
                      rb"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] "
                      rb"|WARNING: All log messages before absl::InitializeLog\(\) is called")
# A partial line that may be the start of a log line waits (a short while) for its end.
LOG_START = re.compile(rb"[IWEF0-9]")
MAX_HELD = 512


class LogLineFilter:
    """Splits a byte stream into what to pass on and the TensorFlow log lines it drops."""

    def __init__(self):
        self.pending = b""
        self.dropped = 0

    def feed(self, data):
        """The bytes of `data` (after any held back before) to pass on now."""
        data, self.pending = self.pending + data, b""
        out = []
        for line in data.splitlines(keepends=True):
            if line.endswith((b"\n", b"\r")):
                if LOG_LINE.match(line):
                    self.dropped += 1
                else:
                    out.append(line)
            elif LOG_START.match(line) and len(line) < MAX_HELD:
                self.pending = line  # perhaps the start of a log line: wait for the rest
            else:
                out.append(line)
        return b"".join(out)

    def flush(self):
        rest, self.pending = self.pending, b""
        return b"" if LOG_LINE.match(rest) else rest


@contextlib.contextmanager
def filtered_stderr():
    """fd 2 (Python's sys.stderr and C++ alike) without TensorFlow's log lines for the block."""
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2 (an embedded interpreter): leave it alone
        yield
        return
    read_end, write_end = os.pipe()
    log_filter = LogLineFilter()

    def forward():
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(65536):
                os.write(original, log_filter.feed(chunk))
        os.write(original, log_filter.flush())

    reader = threading.Thread(target=forward, name="kerasgan-stderr", daemon=True)
    reader.start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield log_filter
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # closes the pipe's last write end (but a child process's): EOF
        reader.join(timeout=5)
        if not reader.is_alive():  # else a child still writes through it: leave it the descriptor
            os.close(original)
