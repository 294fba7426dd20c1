"""A zygote program that behaves as `python -c CODE`, for the tests: the
conformance suite runs its checks on programs forked from a zygote."""

import os
import sys


def _zygote_prepare(args):
    for name in args:
        __import__(name)


def _zygote_main():
    argv = sys.orig_argv
    i = argv.index("-c")
    sys.argv = ["-c"] + argv[i + 2 :]
    status = 0
    try:
        exec(compile(argv[i + 1], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as e:
        if e.code is None:
            status = 0
        elif isinstance(e.code, int):
            status = e.code
        else:
            print(e.code, file=sys.stderr)
            status = 1
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    import threading

    threading._shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(status)
