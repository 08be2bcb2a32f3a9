// The help texts of the solely command: the usage line and each subcommand's --help.

const TARGETS = '--abstract NAME | --file PATH | --pidfile PATH | --postgres URL --key NAME';
/** run takes a Redis lease too; status does not read one. */
const RUN_TARGETS = `${TARGETS} | --redis URL --key NAME`;

export const USAGE = `usage: solely run [${RUN_TARGETS}] [-n | -w SECONDS | --wait[=SECONDS]]
                  [-s | -x | --slots N] [-o] [-E N] [-q | -v] [--fcntl] [--replace] [--respawn] [--max-runtime SECONDS]
                  [--] COMMAND [ARGS...]  |  -c STRING
       solely status [--json] [--slots N] (${TARGETS})
       solely lock [-n | -w SECONDS] [--fcntl] --fd N  |  solely unlock --fd N
       solely list [--json]
       solely --help | --version`;

export const RUN_HELP = `usage: solely run [${RUN_TARGETS}] [options] [--] COMMAND [ARGS...]

Runs COMMAND while holding the lock; exits with COMMAND's status (128+N if killed by signal N).

  --abstract NAME          lock the Linux abstract socket name NAME (1 to 107 bytes)
  --file PATH              flock(2) PATH (created with mode 0644 if absent; a directory is locked in place)
  --pidfile PATH           lock PATH as a pidfile and write COMMAND's PID in it; removed when COMMAND exits,
                           unless processes it started still hold the lock: then it names one of them
  --postgres URL --key NAME
                           take the PostgreSQL advisory lock NAME on the server at URL (a session of
                           solely's: solely stays running while COMMAND runs, COMMAND cannot inherit
                           it); COMMAND gets the fencing token in SOLELY_FENCING_TOKEN. If the lock is
                           lost (connection dropped, server silent), COMMAND gets SIGTERM (SIGKILL 10 s
                           later) and solely exits 69
  --redis URL --key NAME   take the Redis lease NAME on the server at URL (redis://HOST:PORT), renewed
                           by solely while COMMAND runs (10 s, renewed every 3.3 s); COMMAND gets the
                           fencing token in SOLELY_FENCING_TOKEN. If a renewal is not answered within
                           3.3 s, the lease is lost: COMMAND gets SIGTERM (SIGKILL 10 s later) and
                           solely exits 69
  (no target)              a lock of this user's for this command line (run-one): the abstract name
                           solely-run/UID/SHA-256 of each word of COMMAND and ARGS followed by a NUL
  -n, --nonblock           fail at once when the lock is held (the default; with -w too, as in flock(1))
  -w, --timeout SECONDS    wait up to SECONDS, then exit with the conflict code (0: do not wait)
  --wait[=SECONDS]         alone, wait without end; a number right after it is SECONDS
  -o, --close              keep the lock in solely only (default: COMMAND inherits it as fd 3, as with
                           flock(1), so the lock lives as long as COMMAND even if solely is killed)
  -s, --shared             a shared lock (--file: flock LOCK_SH; --postgres: pg_advisory_lock_shared):
                           any number of shared holders at once, or one exclusive
  -x, --exclusive          an exclusive lock (the default)
  --slots N                at most N COMMANDs at once (1 to 1024): the lock is one of N slots (slot i of
                           NAME is NAME.i, slot 0 NAME itself); COMMAND gets its slot in SOLELY_SLOT
  -E, --conflict-exit-code N   exit status when the lock is held (default 75, EX_TEMPFAIL)
  -c, --command STRING     run STRING with sh -c
  --fcntl                  an OFD lock (fcntl F_OFD_SETLK) instead of flock(2), for --file and --pidfile
  -q, --quiet              say nothing on stderr when the lock is held
  -v, --verbose            say on stderr when the lock was taken, what runs, what is signalled
  --replace                end the holder first (run-this-one): SIGTERM, then SIGKILL after --kill-after,
                           only to a process seen to hold the lock; 77 if it cannot be replaced
  --kill-after SECONDS     between SIGTERM and SIGKILL, for --replace and --max-runtime (default 10)
  --respawn                run COMMAND again each time it exits, holding the lock throughout, after a
                           delay from --backoff (default 1) doubling up to 60 s; SIGTERM or SIGINT stops
  --until-success, --until-failure   stop respawning once COMMAND exits 0 / non-zero
  --backoff SECONDS        the first delay before a respawn (default 1), doubled each time up to 60 s
  --max-runtime SECONDS    end COMMAND after SECONDS (SIGTERM, then SIGKILL after --kill-after): exit 124;
                           0: no limit, as with timeout(1)
  --help                   print this help and exit

Exit status: COMMAND's; 75 (or N) when the lock is held; 64 usage error (a NAME, PATH or URL that
is not valid UTF-8 is one); 69 the PostgreSQL or Redis lock was lost while COMMAND ran; 77 --replace could
not end the holder; 124 --max-runtime ended COMMAND; 126 COMMAND not executable; 127 COMMAND not
found; 1 any other failure.

Signals: SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 sent to solely are forwarded to COMMAND, and so are
SIGINT and SIGQUIT, except while solely is in its terminal's foreground process group and COMMAND
still is too: Ctrl-C and Ctrl-\\ then reach COMMAND from the terminal, once. A signal sent to
solely's whole process group by another program reaches COMMAND directly as well as forwarded:
signal solely's PID instead. SIGUSR1 never opens Node's inspector in solely. While solely waits
for the lock, before COMMAND runs, SIGUSR1 and SIGUSR2 are ignored: COMMAND has nothing yet to reload.`;

export const STATUS_HELP = `usage: solely status [--json] [--slots N] (${TARGETS})

Prints whether the lock is held and by whom, never taking it; with --slots N, each slot's holder
(held: at least one slot is; --json adds "slots": [{ slot, state, holder? }, ...]).
Exit status (LSB): 0 held; 1 a pidfile exists but is not locked (stale); 3 not held; 4 unknown:
status could not tell (the error on stderr; with --json, also on stdout as
{ target, kind, state: "unknown", error: { code, message } }); 64 usage error.`;
