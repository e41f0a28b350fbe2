/*
 * demo.h - `tally demo`: a whole federation on this machine (DESIGN.md
 * section 7.1, `make demo`).
 *
 * Under DIR (default: a new folder under /tmp) it lays out
 *   pki/{coordinator,node,planner}-ca.{crt,key}  one CA per role
 *   registry.ini                            every party's pinned public keys
 *   planners.ini                            the planner's request-signing key
 *   coordinator/coordinator.conf, keys/, pki/, state/transparency.db
 *   site-N/ (tally synth's data and node.conf), keys/, pki/, state/ledger.db
 *   planner.conf, pki/planner.{crt,key,sign} for `tally query --config`
 *                                           (planner "planner")
 *   logs/NAME.log, run/NAME.pid             the processes it started
 * then starts the coordinator and one tally-node per site on loopback over
 * mutual TLS, and waits until every node has connected.
 *
 * Plain `tally demo` then asks the demo questions (diabetes by age band and
 * sex, mean wait by specialty, an A&E histogram), prints each answer with its
 * 95% interval beside the synthetic truth, verifies every log with
 * `tally audit verify --dir DIR`, stops every process it started (also on
 * Ctrl-C) and exits 0 when all went well.
 *
 * `tally demo --serve --dir DIR` stops after the start and leaves the
 * federation running; `tally demo --stop --dir DIR` stops it.
 */
#ifndef TLY_CLI_DEMO_H
#define TLY_CLI_DEMO_H

/* The command; returns the exit code. */
int tly_demo_main(int argc, char **argv);

#endif
