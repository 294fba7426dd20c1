"""Interp's zygote: a Python that has loaded a program once and forks it,
already initialised, into new sandboxes. See package sandbox, Zygote.

Started by interp outside any sandbox as `python -I -B -` with this file on
standard input, with a SOCK_SEQPACKET socket on fd 3 and, on fd 4, a pipe
that carries the program: {"path": P, "source": S, "prepare": [ARG, ...],
"prepare_env": ["K=V", ...]}. It drops every
capability it has, compiles S under the file name P (the program's path
inside the sandboxes), runs it as a module named "__interp_zygote__" and
calls its _zygote_prepare(ARGS), which imports what sessions share. It
then says "ready" and waits for fork requests, one at a time:

  {"argv": [...], "env": ["K=V", ...], "dir": D, "nfiles": N,
   "open_files": N, "cpu_seconds": N, "to_user": BOOL, "uid": U, "gid": G,
   "seccomp": [[CODE, JT, JF, K], ...]}

with descriptors: the sandbox init's pidfd, a reply socket, then the
program's standard input, output, error and its N own files. The zygote
forks a child at once, while the init builds the sandbox. Once it has,
interp says "e" on the reply socket, with the init's Landlock ruleset if it
has one; the child joins the init's namespaces (user first, which gives it
the capabilities it then drops) and forks the program into the sandbox's
PID namespace. It sends the program's pidfd on the reply socket and its PID
to the zygote, and exits: the zygote, a subreaper, becomes the program's
parent, and reports its wait status on the reply socket when it ends. The program waits for "g" on the reply socket (interp has put it
in the sandbox's cgroup by then) and locks itself down as the init locked
itself: resource limits, credentials and capabilities, Landlock, seccomp,
in that order; then it takes its descriptors and environment, reseeds the
random generators it shares with its siblings, and becomes the program:
_zygote_main() with sys.argv from the request. Any failure before that
ends the program with status 127 and a line on its standard error.

Everything here runs before any untrusted code, and the zygote itself never
runs any: nothing a session does reaches it.
"""

import ctypes
import fcntl
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import types

_libc = ctypes.CDLL(None, use_errno=True)

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_SECCOMP = 22
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_SECCOMP_MODE_FILTER = 2
# NOROOT, NO_SETUID_FIXUP and their locks, as the init sets them.
_SECUREBITS = (1 | 2 | 4 | 8 | 16 | 32) & ~(4 | 16)
_SYS_LANDLOCK_RESTRICT_SELF = 446  # the same number on every architecture
_CAP_VERSION_3 = 0x20080522
_NAMESPACES = (
    0x10000000  # CLONE_NEWUSER, first: the others are entered with its capabilities
    | 0x00020000  # CLONE_NEWNS
    | 0x40000000  # CLONE_NEWNET
    | 0x08000000  # CLONE_NEWIPC
    | 0x04000000  # CLONE_NEWUTS
    | 0x20000000  # CLONE_NEWPID: for children, hence the second fork
    | 0x02000000  # CLONE_NEWCGROUP
)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _check(ret, what):
    if ret == -1:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return ret


_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_long]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]


def _prctl(option, arg2=0, what="prctl", arg3=0):
    return _check(_libc.prctl(option, arg2, arg3, 0, 0), what)


def _capabilities():
    """The effective, permitted and inheritable sets, as two 32-bit halves."""
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data), "capget")
    return [(d.effective, d.permitted, d.inheritable) for d in data]


def _drop_capabilities(securebits):
    """Every capability gone, for good: the init's dropPrivileges."""
    if securebits:
        _prctl(_PR_SET_SECUREBITS, _SECUREBITS, "securebits")
    for cap in range(64):
        try:
            _prctl(_PR_CAPBSET_DROP, cap, "bounding set")
        except OSError as e:
            if e.errno != 22:  # EINVAL: past the kernel's last capability
                raise
    _prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, "ambient capabilities")


def _clear_capabilities():
    hdr = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(hdr), data), "capset")
    _prctl(_PR_SET_NO_NEW_PRIVS, 1, "no_new_privs")
    if any(any(s) for s in _capabilities()):
        raise OSError(1, "capabilities remain after capset")


def lock_zygote():
    """The zygote keeps nothing of its user's power but its IDs, which own
    the sandboxes' user namespaces and so let its children enter them."""
    if os.geteuid() == 0:
        _drop_capabilities(True)
    _clear_capabilities()


def _seccomp(prog):
    n = len(prog)
    if n == 0 or n > 0xFFFF:
        raise OSError(22, "no usable seccomp filter")
    arr = (_SockFilter * n)(*[_SockFilter(c, jt, jf, k) for c, jt, jf, k in prog])
    fprog = _SockFprog(n, arr)
    _prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, "seccomp", ctypes.addressof(fprog))


def _arrange(sources, keep_extra):
    """Puts sources at 0, 1, 2, ... and closes every other descriptor but
    keep_extra, which is moved above them and returned."""
    n = len(sources)
    # Copies above every place first, so that no placing overwrites a
    # source still to be placed.
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, n) for fd in sources]
    extra = fcntl.fcntl(keep_extra, fcntl.F_DUPFD_CLOEXEC, n) if keep_extra is not None else None
    for i, fd in enumerate(high):
        os.dup2(fd, i, inheritable=True)
    if extra is None:
        os.closerange(n, 1 << 20)
    else:
        os.closerange(n, extra)
        os.closerange(extra + 1, 1 << 20)
    return extra


def _enter(pidfd, reply, pid_w):
    """In the zygote's child: wait for interp's word that the sandbox is
    built (with the init's Landlock ruleset, if any), join it, and fork the
    program into its PID namespace; hand over the program's pidfd to interp
    and its PID to the zygote. Returns the ruleset, only in the program."""
    word, fds, _, _ = socket.recv_fds(reply, 16, 1)
    if word != b"e":
        os._exit(127)  # interp gave up
    landlock = fds[0] if fds else None
    _check(_libc.setns(pidfd, _NAMESPACES), "join the sandbox's namespaces")
    os.close(pidfd)
    pid = os.fork()
    if pid:
        pfd = os.pidfd_open(pid)
        socket.send_fds(reply, [b"p"], [pfd])
        os.write(pid_w, struct.pack(">I", pid))
        os._exit(0)
    # The program, in the sandbox's PID namespace. The child that forked it
    # exits now, and the zygote, a subreaper, becomes its parent.
    os.close(pid_w)
    return landlock


def _become(req, reply, landlock, files):
    """In the program: wait for interp's word, then lock down."""
    word = reply.recv(1)
    reply.close()
    if word != b"g":
        os._exit(127)
    # A session and process group of its own, as the init's (which leads
    # one) gives an executed program: none of the zygote's.
    os.setsid()
    landlock = _arrange(files, landlock)
    limits = [(resource.RLIMIT_NOFILE, req["open_files"]), (resource.RLIMIT_CORE, 0)]
    if req.get("cpu_seconds"):
        limits.append((resource.RLIMIT_CPU, req["cpu_seconds"]))
    for res, val in limits:
        resource.setrlimit(res, (val, val))
    _drop_capabilities(True)
    if req["to_user"]:
        os.setgroups([])
        os.setresgid(req["gid"], req["gid"], req["gid"])
        os.setresuid(req["uid"], req["uid"], req["uid"])
    _clear_capabilities()
    if req["to_user"] and (
        os.getresuid() != (req["uid"],) * 3 or os.getresgid() != (req["gid"],) * 3 or os.getgroups()
    ):
        raise OSError(1, "credentials did not change")
    # Changing IDs made the process undumpable, which an executed program
    # would not be: its own /proc files would be out of its reach.
    _prctl(_PR_SET_DUMPABLE, 1, "dumpable")
    if landlock is not None:
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, landlock, 0), "landlock")
        os.close(landlock)
    _seccomp(req["seccomp"])
    os.chdir(req["dir"])
    os.environ.clear()
    for kv in req["env"]:
        k, _, v = kv.partition("=")
        os.environ[k] = v
    _reseed()


def _reseed():
    """Generators seeded at import would draw the same numbers in every
    program of this zygote, and in the zygote: reseed them from the
    kernel. random reseeds itself after a fork; numpy's legacy global
    generator does not."""
    import random

    random.seed()
    np_random = sys.modules.get("numpy.random")
    if np_random is not None:
        np_random.seed()


def _reap(programs):
    """Reports the end of every program that ended to interp."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        reply = programs.pop(pid, None)
        if reply is not None:
            try:
                os.write(reply, struct.pack(">I", status & 0xFFFFFFFF))
            except OSError:
                pass
            os.close(reply)


def _serve(ctrl, program):
    # Programs are this process's children once the child that forked
    # each has exited (it is a subreaper): it reaps them and reports their
    # wait status on their reply sockets, which it keeps until then.
    _prctl(_PR_SET_CHILD_SUBREAPER, 1, "subreaper")
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    poller = select.poll()
    poller.register(ctrl.fileno(), select.POLLIN)
    poller.register(wake_r, select.POLLIN)
    programs = {}  # program's PID: its reply socket
    entering = {}  # pipe on which a child sends its program's PID: the reply socket
    open_ctrl = True
    while open_ctrl or programs or entering:
        try:
            ready = [fd for fd, _ in poller.poll()]
        except InterruptedError:
            ready = []
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        # Every PID sent is registered before any reaping: a child sends
        # its program's PID before it exits, and the program becomes this
        # process's child only then.
        for pid_r in list(entering):
            try:
                b = os.read(pid_r, 4)
            except BlockingIOError:
                continue
            reply = entering.pop(pid_r)
            poller.unregister(pid_r)
            os.close(pid_r)
            if len(b) == 4:
                programs[struct.unpack(">I", b)[0]] = reply
            else:
                os.close(reply)  # the child failed; interp hears of it
        _reap(programs)
        if ctrl.fileno() not in ready:
            continue
        try:
            msg, fds, _, _ = socket.recv_fds(ctrl, 1 << 20, 256)
        except InterruptedError:
            continue
        if not msg:
            # interp is done with this zygote: it stays until the last of
            # its programs has ended, to report it.
            poller.unregister(ctrl.fileno())
            open_ctrl = False
            continue
        pid_r = _fork(ctrl, program, msg, fds, (wake_r, wake_w), entering, programs)
        if pid_r is not None:
            entering[pid_r] = fds[1]
            poller.register(pid_r, select.POLLIN)
    os._exit(0)


def _fork(ctrl, program, msg, fds, wake, entering, programs):
    """Forks the child for one request. Returns the pipe on which it will
    send its program's PID, or None if the request was bad."""
    try:
        req = json.loads(msg)
        if len(fds) != 2 + 3 + req["nfiles"]:
            raise ValueError("%d descriptors for %d files" % (len(fds), req["nfiles"]))
    except (ValueError, KeyError, TypeError) as e:
        sys.stderr.write("interp zygote: bad request: %s\n" % e)
        for fd in fds:
            os.close(fd)
        return None
    pid_r, pid_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    _flush()
    pid = os.fork()
    if pid == 0:
        try:
            ctrl.detach()
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            # Other requests' descriptors: the program closes every one
            # it does not need before it runs anything anyway.
            for fd in wake + (pid_r,) + tuple(entering) + tuple(entering.values()) + tuple(programs.values()):
                os.close(fd)
            os.set_blocking(pid_w, True)
            reply = socket.socket(fileno=fds[1])
            landlock = _enter(fds[0], reply, pid_w)
            _become(req, reply, landlock, fds[2:])
        except BaseException as e:
            try:
                os.write(2, ("interp zygote: the program could not enter its sandbox: %s\n" % e).encode())
            finally:
                os._exit(127)
        sys.argv = [req["argv"][-1]]
        sys.orig_argv = list(req["argv"])
        program._zygote_main()
        os._exit(1)
    os.close(pid_w)
    for fd in fds:
        if fd != fds[1]:
            os.close(fd)
    return pid_r


def _flush():
    """What the zygote wrote is its own: left in a buffer, every program
    would inherit it and write it out as its own output."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _default_signals():
    """The dispositions and mask of a Python started from a clean shell,
    whatever interp's own parent left: ignored signals and the mask survive
    execve and fork (nohup ignores SIGHUP, a shell's background job
    SIGINT), and a program that ignores SIGINT cannot be interrupted."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ):
            continue  # Python ignores the last two itself
        try:
            if signal.getsignal(sig) == signal.SIG_IGN:
                signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    if signal.getsignal(signal.SIGINT) == signal.SIG_DFL:
        # What Python installs at start when SIGINT is not ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _main():
    _default_signals()
    # Nothing that interp inherited and passed on unawares: its programs
    # close what they do not need, but the zygote holds it for its life.
    os.closerange(5, 1 << 20)
    ctrl = socket.socket(fileno=3)
    # Dies with interp.
    _prctl(_PR_SET_PDEATHSIG, 9, "parent-death signal")
    lock_zygote()
    with os.fdopen(4, "rb") as f:
        spec = json.loads(f.read())
    program = types.ModuleType("__interp_zygote__")
    program.__file__ = spec["path"]
    code = compile(spec["source"], spec["path"], "exec")
    exec(code, program.__dict__)
    # Variables for preparing only (paths on the host): the environment a
    # program shows as its own, in /proc/self/environ, stays the one the
    # zygote started with.
    saved = {}
    for kv in spec.get("prepare_env") or []:
        k, _, v = kv.partition("=")
        saved[k] = os.environ.get(k)
        os.environ[k] = v
    program._zygote_prepare(spec.get("prepare") or [])
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    _flush()
    ctrl.send(b"ready")
    _serve(ctrl, program)


if __name__ == "__main__":
    _main()
