/*
 * daemon.h - `tally-node --config FILE`: the node on the network.
 *
 * Dials the coordinator (tls+tcp, mutual TLS, the signed handshake of
 * net/transport.h) and keeps redialling after drops. For each QUERY:
 *   - as a committee member (when the config allows it), it keeps a
 *     member state for the query (protocol/committee.h) and answers the
 *     coordinator's relayed SHAREs and ANNOUNCE;
 *   - as a participant, it answers through tly_node_answer (node.h):
 *     policy, the durable ledger charge, evaluation, noise, shares. It
 *     sends its RECEIPT and then its SHAREs, or a REFUSAL saying why;
 *   - for a pairwise-masking QUERY (SecAgg, SecAgg+), through
 *     tly_node_answer_masked: the same steps, then its RECEIPT and its
 *     ADVERTISE; it keeps the client state (protocol/secagg.h) for the
 *     later rounds and wipes it when the client is done or stopped, or
 *     after 8 round deadlines without a message for it.
 * One line per event goes to stderr. SIGTERM and SIGINT stop it cleanly:
 * the current message is finished, the link closed, the ledger closed.
 */
#ifndef TLY_NODE_DAEMON_H
#define TLY_NODE_DAEMON_H

#include "crypto/error.h"

/* Run until a signal asks it to stop. Returns the process exit code:
 * 0 after a clean stop, 2 for configuration errors, 1 for others. */
int tly_node_daemon(const char *config_path);

#endif
