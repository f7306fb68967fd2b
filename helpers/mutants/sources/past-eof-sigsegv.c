/* mmap(2) SIGBUS: a reference to a page of a file mapping that lies wholly
 * past the end of the file raises SIGBUS.
 * Mutant: such a reference raises SIGSEGV (SEGV_ACCERR, at the same
 * address), as on systems that do not tell the two faults apart.  A
 * SIGBUS handler of the library's own (kept in place: the program's wish
 * for SIGBUS is recorded and reported, not installed) queues that SIGSEGV
 * to its own thread, with the fault's address, so that the program's
 * SIGSEGV disposition decides; a SIGBUS of any other cause gets the
 * program's SIGBUS disposition. */
#include "mutant.h"

#include <signal.h>
#include <sys/syscall.h>

static struct sigaction wanted;  /* what the program asked for SIGBUS */

static void bus(int signum, siginfo_t *info, void *context) {
    REAL(sigaction);
    (void)context;
    if (info->si_code == BUS_ADRERR) {
        /* A process may queue itself a signal with a kernel si_code. */
        siginfo_t segv;
        memset(&segv, 0, sizeof segv);
        segv.si_signo = SIGSEGV;
        segv.si_code = SEGV_ACCERR;
        segv.si_addr = info->si_addr;
        if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGSEGV, &segv) == 0)
            return;
    }
    real_sigaction(signum, &wanted, NULL);  /* the program's own disposition, then refault */
}

__attribute__((constructor)) static void install(void) {
    REAL(sigaction);
    struct sigaction ours = {0};
    ours.sa_sigaction = bus;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&ours.sa_mask);
    wanted.sa_handler = SIG_DFL;
    real_sigaction(SIGBUS, &ours, NULL);
}

int sigaction(int signum, const struct sigaction *act, struct sigaction *old) {
    REAL(sigaction);
    if (signum != SIGBUS)
        return real_sigaction(signum, act, old);
    if (old)
        *old = wanted;
    if (act)
        wanted = *act;
    return 0;
}

sighandler_t signal(int signum, sighandler_t handler) {
    REAL(signal);
    if (signum != SIGBUS)
        return real_signal(signum, handler);
    sighandler_t previous = wanted.sa_handler;
    memset(&wanted, 0, sizeof wanted);
    wanted.sa_handler = handler;
    return previous;
}
