#ifndef RINGSOCK_PROBES_H
#define RINGSOCK_PROBES_H

/* USDT (statically defined tracing) probes, provider "ringsock", for bpftrace, perf and
 * SystemTap: `bpftrace -l 'usdt:build/release/ringsock:*'`. Each probe is a single nop in the
 * code plus a note in the ELF file (readelf -n); a tracer turns the nop into a breakpoint only
 * while it is attached. The arguments are evaluated even when nothing is attached, so pass
 * only values already at hand (a field, a local), never something computed for the probe.
 * The probes and their arguments are listed in README.md ("Tracing").
 *
 * Built with <sys/sdt.h> (Debian: systemtap-sdt-dev) when CMake finds it (RS_HAVE_SDT); without
 * it, or with -DRS_PROBES=OFF, the macros compile to nothing and do not evaluate their
 * arguments. */

#if defined(RS_HAVE_SDT) && RS_HAVE_SDT
#include <sys/sdt.h>

#define RS_PROBE0(name)                     DTRACE_PROBE(ringsock, name)
#define RS_PROBE1(name, a1)                 DTRACE_PROBE1(ringsock, name, a1)
#define RS_PROBE2(name, a1, a2)             DTRACE_PROBE2(ringsock, name, a1, a2)
#define RS_PROBE3(name, a1, a2, a3)         DTRACE_PROBE3(ringsock, name, a1, a2, a3)
#define RS_PROBE4(name, a1, a2, a3, a4)     DTRACE_PROBE4(ringsock, name, a1, a2, a3, a4)
#define RS_PROBE5(name, a1, a2, a3, a4, a5) DTRACE_PROBE5(ringsock, name, a1, a2, a3, a4, a5)
#define RS_PROBES_ENABLED                   1

#else
/* `if (0)` keeps the arguments type-checked and "used" without evaluating them. */
#define RS_PROBE0(name)                                                                            \
    do {                                                                                           \
    } while (0)
#define RS_PROBE1(name, a1)                                                                        \
    do {                                                                                           \
        if (0)                                                                                     \
            (void)(a1);                                                                            \
    } while (0)
#define RS_PROBE2(name, a1, a2)                                                                    \
    do {                                                                                           \
        if (0)                                                                                     \
            (void)(a1), (void)(a2);                                                                \
    } while (0)
#define RS_PROBE3(name, a1, a2, a3)                                                                \
    do {                                                                                           \
        if (0)                                                                                     \
            (void)(a1), (void)(a2), (void)(a3);                                                    \
    } while (0)
#define RS_PROBE4(name, a1, a2, a3, a4)                                                            \
    do {                                                                                           \
        if (0)                                                                                     \
            (void)(a1), (void)(a2), (void)(a3), (void)(a4);                                        \
    } while (0)
#define RS_PROBE5(name, a1, a2, a3, a4, a5)                                                        \
    do {                                                                                           \
        if (0)                                                                                     \
            (void)(a1), (void)(a2), (void)(a3), (void)(a4), (void)(a5);                            \
    } while (0)
#define RS_PROBES_ENABLED 0
#endif

#endif
