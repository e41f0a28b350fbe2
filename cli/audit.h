/*
 * audit.h - `tally audit`: what an auditor runs (DESIGN.md section 6).
 *
 *   tally audit verify --dir DIR
 *   tally audit verify --log FILE --registry FILE [--ledger FILE ...]
 *   tally audit explain (--dir DIR | --log FILE) QUERY_ID
 *
 * verify checks the coordinator's transparency log (coordinator/translog.h:
 * chain, signatures, receipts, caps, spend consistency) under the registry's
 * keys, then each node ledger given (node/ledger.h: chain, signatures,
 * spend), then that every receipt in the log matches the charge entry of
 * the same seq in that node's ledger (kind, query id and hash, mechanism,
 * amount, spent totals and entry_hash), and that every charge in a ledger
 * for a query the log released is for a contributor of that release or
 * comes with the node's receipt in its entry (a node listed as dropped, or
 * left out, without its receipt although it answered: the log would hide
 * its spend). A ledger is matched to its node by
 * the public key it records, which must be in the registry. It prints what
 * it checked and a summary; it exits 0 when everything verified and 1
 * naming the first problem (file, entry seq, why) otherwise.
 *
 * --dir DIR assumes the layout of a `tally demo` federation (cli/demo.c):
 *   DIR/registry.ini                        the registry
 *   DIR/coordinator/coordinator.conf        its `log` and `registry` keys,
 *                                           when it loads; otherwise
 *   DIR/coordinator/state/transparency.db   the log
 *   DIR/site-N/node.conf                    its `ledger` key, when it loads;
 *                                           otherwise
 *   DIR/site-N/state/ledger.db              node N's ledger (a site whose
 *                                           ledger does not exist yet is
 *                                           skipped with a note)
 *
 * explain prints, in plain words, what one release guarantees: the
 * mechanism, epsilon or rho and the (epsilon, delta) it implies, how many
 * trusts contributed, that privacy holds while at least h contributors
 * were honest and fewer than t committee members (or, for masking, t
 * participants) colluded with the coordinator, and what the noise sd and
 * 95% intervals mean. It reads the log without verifying it.
 *
 * Exit codes (DESIGN.md section 7.1): 0 success, 1 verification failed or
 * a file could not be read, 2 invalid usage.
 */
#ifndef TLY_CLI_AUDIT_H
#define TLY_CLI_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/error.h"
#include "wire/messages.h"

enum { TLY_AUDIT_PATH_MAX = 4096, TLY_AUDIT_MAX_LEDGERS = 1000 };

/* The files to check; all borrowed. */
struct tly_audit_files {
	const char *log;
	const char *registry;
	size_t ledger_count;
	const char *const *ledgers;
	/* A charge for a released query that the log neither counts as a
	 * contribution nor carries a receipt for is either a coordinator hiding
	 * a node's answer or an answer lost after its charge (a node killed
	 * between its ledger write and its send, an answer after the release):
	 * the files cannot tell which. 0: report each as a WARNING line and
	 * still pass; 1: fail on the first (TLY_EAUTH). */
	int strict;
};

/* The first problem found. */
struct tly_audit_finding {
	char file[TLY_AUDIT_PATH_MAX];
	uint64_t seq; /* the entry at fault in that file; 0 when not one entry */
	char reason[512];
};

/* "FILE: entry SEQ: REASON" (or "FILE: REASON") into buf. */
void tly_audit_finding_format(const struct tly_audit_finding *finding, char *buf, size_t len);

/*
 * Run the checks above, printing one line per file and a summary to out.
 * TLY_OK when everything verified (unaccounted charges are WARNING lines
 * unless files->strict). TLY_EAUTH when a log, ledger or
 * receipt failed a check, TLY_EIO or TLY_EFORMAT when a file could not be
 * read as what it should be (finding says which and why; checking goes on
 * through the other files, and finding keeps the first problem);
 * TLY_ENOMEM.
 */
TLY_MUST tly_err tly_audit_verify(const struct tly_audit_files *files, FILE *out,
                                  struct tly_audit_finding *finding);

/* The files of a `tally demo` federation in dir (layout above). */
struct tly_audit_layout {
	char log[TLY_AUDIT_PATH_MAX];
	char registry[TLY_AUDIT_PATH_MAX];
	size_t ledger_count;
	char **ledgers;       /* malloc'd paths that exist, by site number */
	size_t missing_count; /* sites without a ledger yet */
};

/* TLY_EIO with why when dir cannot be read; TLY_ENOMEM. On success *out
 * owns its paths (tly_audit_layout_fini). */
TLY_MUST tly_err tly_audit_layout(const char *dir, struct tly_audit_layout *out, char *why,
                                  size_t why_len);
void tly_audit_layout_fini(struct tly_audit_layout *layout);

/* Print the plain-words statement for one released query of the log at
 * log_path. TLY_EINVAL with why when the query is not in the log or was
 * not released; TLY_EIO, TLY_EFORMAT with why when the log or the entry
 * cannot be read. */
TLY_MUST tly_err tly_audit_explain(const char *log_path,
                                   const uint8_t query_id[static TLY_QUERY_ID_BYTES], FILE *out,
                                   char *why, size_t why_len);

/* The statement itself, from an entry already found (internal: what
 * tly_audit_explain prints once it has read the log, and what
 * tests/fuzz/fuzz_result.c feeds hostile JSON). TLY_EFORMAT with why when
 * the release or query JSON is not a JSON object, TLY_EIO. */
struct tly_translog_found;
TLY_MUST tly_err tly_audit_explain_found(const struct tly_translog_found *found,
                                         const uint8_t query_id[static TLY_QUERY_ID_BYTES],
                                         const char *log_path, FILE *out, char *why,
                                         size_t why_len);

/* `tally audit ...` with argv[0] = "audit"; returns the exit code. */
int tly_audit_command(int argc, char **argv);

#endif
