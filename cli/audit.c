/* `tally audit verify` and the command line of `tally audit` (audit.h);
 * explain is in audit_explain.c. */
#include "audit.h"
#include "audit_dp.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli/audit_feed.h"
#include "cli/audit_heads.h"
#include "coordinator/config.h"
#include "coordinator/translog.h"
#include "node/config.h"
#include "node/ledger.h"
#include "net/process.h"
#include "store/keys.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* ---- findings ---- */

void
tly_audit_finding_format(const struct tly_audit_finding *finding, char *buf, size_t len)
{
	snprintf(buf, len, "%s: %s", finding->file, finding->reason);
}

struct audit {
	FILE *out;
	struct tly_audit_finding *finding;
	tly_err first; /* the class of the first problem, TLY_OK while none */
	struct tly_roster roster;
	struct tly_translog_report log;
	size_t ledgers_ok, receipts_matched;
	size_t unaccounted; /* charges reported as WARNING lines (not strict) */
	int strict;
	struct tly_audit_heads heads; /* the log heads the ledgers hold */
};

/* Keep the first problem: reason names the entry (or the file's issue). */
static void
problem(struct audit *a, tly_err rv, const char *file, uint64_t seq, const char *fmt, ...)
{
	va_list ap;

	if (a->first != TLY_OK)
		return;
	a->first = rv;
	snprintf(a->finding->file, sizeof a->finding->file, "%s", file);
	a->finding->seq = seq;
	va_start(ap, fmt);
	vsnprintf(a->finding->reason, sizeof a->finding->reason, fmt, ap);
	va_end(ap);
}

static void
short_hex(char out[17], const uint8_t hash[static TLY_HASH_BYTES])
{
	char full[2 * TLY_HASH_BYTES + 1];

	tly_hex(full, hash, TLY_HASH_BYTES);
	memcpy(out, full, 16);
	out[16] = '\0';
}

/* ---- the log ---- */

static int by_query_id(const void *x, const void *y);

static void
check_log(struct audit *a, const char *path)
{
	struct tly_translog_report *r = &a->log;
	char head[17];
	tly_err rv = tly_translog_verify_file(path, &a->roster, r);

	/* Query ids are unique in a verified log: sorted, for release_of. */
	if (r->release_ref_count > 1)
		qsort(r->release_refs, r->release_ref_count, sizeof *r->release_refs, by_query_id);

	if (rv == TLY_OK) {
		short_hex(head, r->head_hash);
		fprintf(a->out,
		        "log %s: OK: %" PRIu64 " entries (%" PRIu64 " released, %" PRIu64
		        " aborted, %" PRIu64 " refused), %" PRIu64 " receipts, head %s\n",
		        path, r->entries, r->released, r->aborted, r->refused, r->receipts,
		        r->entries > 0 ? head : "-");
		tly_audit_note_unfinished(r, path, a->out);
		return;
	}
	fprintf(a->out, "log %s: FAILED: %s\n", path, r->reason);
	if (rv == TLY_EAUTH)
		fprintf(a->out, "  (%" PRIu64 " entries verified before it)\n", r->entries);
	problem(a, rv, path, r->bad_seq, "%s", r->reason);
}

/* ---- ledgers against the log's receipts ---- */

static int
same_fraction(struct tly_fraction a, struct tly_fraction b)
{
	return a.num == b.num && a.den == b.den;
}

/* The field in which the ledger entry and the receipt differ, or NULL. */
static const char *
differs(const struct tly_ledger_entry *e, const struct tly_translog_receipt_ref *ref)
{
	if (e->kind != TLY_LEDGER_CHARGE)
		return "the ledger recorded a refusal, not a charge";
	if (sodium_memcmp(e->query_id, ref->query_id, TLY_QUERY_ID_BYTES) != 0)
		return "query_id";
	if (sodium_memcmp(e->query_hash, ref->query_hash, TLY_HASH_BYTES) != 0)
		return "query_hash";
	if (e->mechanism != ref->mechanism)
		return "mechanism";
	if (!same_fraction(e->amount, ref->amount))
		return "amount";
	if (!same_fraction(e->epsilon_spent, ref->epsilon_spent))
		return "epsilon_spent";
	if (!same_fraction(e->rho_spent, ref->rho_spent))
		return "rho_spent";
	if (sodium_memcmp(e->entry_hash, ref->entry_hash, TLY_HASH_BYTES) != 0)
		return "entry_hash";
	return NULL;
}

/* Every receipt of node_id in the log against the ledger; the count of
 * matches in *matched. Nonzero when all matched. */
static int
match_receipts(struct audit *a, struct tly_ledger *ledger, const char *path, uint32_t node_id,
               size_t *matched)
{
	struct tly_ledger_entry e;
	const char *field;
	tly_err rv;

	*matched = 0;
	for (size_t i = 0; i < a->log.receipt_ref_count; i++) {
		const struct tly_translog_receipt_ref *ref = &a->log.receipt_refs[i];
		if (ref->node_id != node_id)
			continue;
		rv = tly_ledger_entry_get(ledger, ref->seq, &e);
		if (rv == TLY_EINVAL) {
			fprintf(a->out,
			        "ledger %s: FAILED: entry %" PRIu64
			        " is missing: log entry %" PRIu64 " carries node %" PRIu32
			        "'s receipt for it\n",
			        path, ref->seq, ref->log_seq, node_id);
			problem(a, TLY_EAUTH, path, ref->seq,
			        "entry %" PRIu64 " is missing, yet log entry %" PRIu64
			        " carries node %" PRIu32
			        "'s receipt for it (the ledger was cut short)",
			        ref->seq, ref->log_seq, node_id);
			return 0;
		}
		if (rv != TLY_OK) {
			problem(a, rv, path, ref->seq, "entry %" PRIu64 " cannot be read: %s",
			        ref->seq, tly_strerror(rv));
			return 0;
		}
		if ((field = differs(&e, ref)) != NULL) {
			fprintf(a->out,
			        "ledger %s: FAILED: entry %" PRIu64 " does not match node %" PRIu32
			        "'s receipt in log entry %" PRIu64 " (%s)\n",
			        path, ref->seq, node_id, ref->log_seq, field);
			problem(a, TLY_EAUTH, path, ref->seq,
			        "entry %" PRIu64 " does not match node %" PRIu32
			        "'s receipt in log entry %" PRIu64 " (%s differs)",
			        ref->seq, node_id, ref->log_seq, field);
			return 0;
		}
		(*matched)++;
	}
	return 1;
}

static int
by_query_id(const void *x, const void *y)
{
	const struct tly_translog_release_ref *a = x, *b = y;
	return memcmp(a->query_id, b->query_id, TLY_QUERY_ID_BYTES);
}

/* The log's release of a query id (release_refs sorted by check_log). */
static const struct tly_translog_release_ref *
release_of(const struct tly_translog_report *log, const uint8_t query_id[TLY_QUERY_ID_BYTES])
{
	struct tly_translog_release_ref key;

	if (log->release_ref_count == 0)
		return NULL;
	memcpy(key.query_id, query_id, TLY_QUERY_ID_BYTES);
	return bsearch(&key, log->release_refs, log->release_ref_count, sizeof key, by_query_id);
}

static int
log_has_receipt(const struct tly_translog_report *log, uint64_t log_seq, uint32_t node_id)
{
	for (size_t i = 0; i < log->receipt_ref_count; i++)
		if (log->receipt_refs[i].log_seq == log_seq &&
		    log->receipt_refs[i].node_id == node_id)
			return 1;
	return 0;
}

/* Every charge of the ledger for a released query: the node contributed,
 * or the log carries its receipt (it answered but was dropped). A charge
 * the release leaves out without its receipt is a spend the log hides:
 * the coordinator claims the node dropped although it answered. Nonzero
 * when all are accounted for. */
static int
match_releases(struct audit *a, struct tly_ledger *ledger, const char *path, uint32_t node_id,
               uint64_t entries)
{
	struct tly_ledger_entry e;
	char qid[2 * TLY_QUERY_ID_BYTES + 1];

	for (uint64_t seq = 1; seq <= entries; seq++) {
		tly_err rv = tly_ledger_entry_get(ledger, seq, &e);
		if (rv != TLY_OK) {
			problem(a, rv, path, seq, "entry %" PRIu64 " cannot be read: %s", seq,
			        tly_strerror(rv));
			return 0;
		}
		if (e.kind != TLY_LEDGER_CHARGE)
			continue;
		const struct tly_translog_release_ref *rel = release_of(&a->log, e.query_id);
		if (rel == NULL || tly_idlist_contains(&rel->contributors, node_id) ||
		    log_has_receipt(&a->log, rel->log_seq, node_id))
			continue;
		char what[64];
		if (tly_idlist_contains(&rel->dropped, node_id))
			snprintf(what, sizeof what, "lists node %" PRIu32 " as dropped", node_id);
		else
			snprintf(what, sizeof what, "leaves node %" PRIu32 " out", node_id);
		tly_hex(qid, e.query_id, TLY_QUERY_ID_BYTES);
		if (!a->strict) {
			fprintf(a->out,
			        "ledger %s (node %" PRIu32 "): WARNING: entry %" PRIu64
			        " charges query %s, but log entry %" PRIu64
			        "'s release %s and carries no receipt from it: an answer lost "
			        "after its charge, or a coordinator hiding it (see "
			        "docs/OPERATIONS.md; --strict fails on this)\n",
			        path, node_id, seq, qid, rel->log_seq, what);
			a->unaccounted++;
			continue;
		}
		fprintf(a->out,
		        "ledger %s (node %" PRIu32 "): FAILED: entry %" PRIu64
		        " charges query %s, but log entry %" PRIu64
		        "'s release %s and carries no receipt from it\n",
		        path, node_id, seq, qid, rel->log_seq, what);
		problem(a, TLY_EAUTH, path, seq,
		        "node %" PRIu32 " answered query %s (ledger entry %" PRIu64
		        ") but log entry %" PRIu64 "'s release %s without its receipt: the log "
		        "does not account for the node's spend",
		        node_id, qid, seq, rel->log_seq, what);
		return 0;
	}
	return 1;
}

/* The node whose key pk is: its sign_pk (*kind CURRENT) or, failing
 * that, a retired one. */
static const struct tly_party *
party_with_key(const struct tly_roster *roster, const uint8_t pk[static TLY_SIGN_PUBLIC_BYTES],
               enum tly_party_key *kind)
{
	const struct tly_party *retired = NULL;

	for (size_t i = 0; i < roster->count; i++) {
		enum tly_party_key k = tly_party_sign_key(&roster->parties[i], pk);
		if (k == TLY_PARTY_KEY_CURRENT) {
			*kind = k;
			return &roster->parties[i];
		}
		if (k == TLY_PARTY_KEY_RETIRED && retired == NULL)
			retired = &roster->parties[i];
	}
	*kind = retired != NULL ? TLY_PARTY_KEY_RETIRED : TLY_PARTY_KEY_NONE;
	return retired;
}

/* The ledger's node key in force must be the node's sign_pk in the
 * registry: say which node the ledger is, or FAILED. */
static const struct tly_party *
ledger_node(struct audit *a, struct tly_ledger *ledger, const char *path)
{
	uint8_t pk[TLY_SIGN_PUBLIC_BYTES];
	enum tly_party_key kind;
	const struct tly_party *node;

	tly_ledger_public_key(ledger, pk);
	node = party_with_key(&a->roster, pk, &kind);
	if (kind == TLY_PARTY_KEY_CURRENT)
		return node;
	if (kind == TLY_PARTY_KEY_RETIRED) {
		fprintf(a->out,
		        "ledger %s (node %" PRIu32 "): FAILED: written with a retired key of the "
		        "node, and no key handover in it leads to the node's sign_pk\n",
		        path, node->id);
		problem(a, TLY_EAUTH, path, 0,
		        "node %" PRIu32 "'s ledger is signed with its retired key and has no key "
		        "handover to its registry sign_pk (tally-node ledger handover)",
		        node->id);
		return NULL;
	}
	fprintf(a->out, "ledger %s: FAILED: written with a key of no node in the registry\n", path);
	problem(a, TLY_EAUTH, path, 0, "written with a key of no node in the registry");
	return NULL;
}

/* Every key the ledger was signed with is the node's, now or retired: a
 * handover to a key the registry never listed is not the node's doing. */
static int
ledger_keys_listed(struct audit *a, const struct tly_ledger_report *report, const char *path,
                   const struct tly_party *node)
{
	for (size_t i = 0; i < report->key_count; i++) {
		if (tly_party_sign_key(node, report->keys[i].pk) != TLY_PARTY_KEY_NONE)
			continue;
		fprintf(a->out,
		        "ledger %s (node %" PRIu32 "): FAILED: its node key from entry %" PRIu64
		        " is not listed for the node in the registry\n",
		        path, node->id, report->keys[i].from_seq);
		problem(a, TLY_EAUTH, path, report->keys[i].from_seq,
		        "node %" PRIu32 "'s ledger is signed from entry %" PRIu64
		        " with a key the registry lists neither as its sign_pk nor as a "
		        "retired_sign_pk",
		        node->id, report->keys[i].from_seq);
		return 0;
	}
	return 1;
}

static void
check_ledger(struct audit *a, const char *path)
{
	struct tly_ledger *ledger = NULL;
	char err[256];
	struct tly_ledger_report report;
	const struct tly_party *node;
	size_t matched;
	tly_err rv;

	if ((rv = tly_ledger_open_readonly(&ledger, path, err, sizeof err)) != TLY_OK) {
		fprintf(a->out, "ledger %s: FAILED: %s\n", path, err);
		problem(a, rv, path, 0, "%s", err);
		return;
	}
	if ((node = ledger_node(a, ledger, path)) == NULL)
		goto out;
	if ((rv = tly_ledger_verify(ledger, node->sign_pk, &report)) != TLY_OK) {
		fprintf(a->out, "ledger %s (node %" PRIu32 "): FAILED: %s\n", path, node->id,
		        report.reason);
		problem(a, rv, path, report.bad_seq, "%s", report.reason);
		goto out;
	}
	if (!ledger_keys_listed(a, &report, path, node))
		goto out;
	char reason[512] = "";
	if ((rv = tly_audit_check_heads(&a->heads, ledger, path, node->id, report.entries,
	                                &a->roster, &a->log, a->out, reason, sizeof reason)) !=
	    TLY_OK) {
		problem(a, rv, path, 0, "%s", reason);
		goto out;
	}
	if (!match_receipts(a, ledger, path, node->id, &matched) ||
	    !match_releases(a, ledger, path, node->id, report.entries))
		goto out;
	fprintf(a->out,
	        "ledger %s (node %" PRIu32 "): OK: %" PRIu64 " entries (%" PRIu64
	        " charges, %" PRIu64 " refusals); %zu receipts in the log match it\n",
	        path, node->id, report.entries, report.charges, report.refusals, matched);
	for (size_t i = 1; i < report.key_count; i++)
		fprintf(a->out, "  note: the node key was handed over before entry %" PRIu64 "\n",
		        report.keys[i].from_seq);
	if (report.charges > matched)
		fprintf(a->out,
		        "  note: %" PRIu64
		        " charges have no receipt in the log (answers that never "
		        "reached the coordinator, or entries missing from the log's end)\n",
		        report.charges - matched);
	a->ledgers_ok++;
	a->receipts_matched += matched;
out:
	tly_ledger_close(ledger);
}

tly_err
tly_audit_verify(const struct tly_audit_files *files, FILE *out, struct tly_audit_finding *finding)
{
	struct audit a = {.out = out, .finding = finding, .strict = files->strict};
	char why[512];

	TLY_REQUIRE(files != NULL && files->log != NULL && files->registry != NULL);
	TLY_REQUIRE(out != NULL && finding != NULL);
	memset(finding, 0, sizeof *finding);
	if (tly_registry_load(&a.roster, files->registry, why, sizeof why) != TLY_OK) {
		fprintf(out, "registry %s: FAILED: %s\n", files->registry, why);
		problem(&a, TLY_EIO, files->registry, 0, "%s", why);
		fprintf(out, "audit: FAILED: %s: %s\n", finding->file, finding->reason);
		return a.first;
	}
	fprintf(out, "registry %s: the coordinator and %zu nodes\n", files->registry,
	        a.roster.count);
	check_log(&a, files->log);
	for (size_t i = 0; i < files->ledger_count; i++)
		check_ledger(&a, files->ledgers[i]);
	if (a.first == TLY_OK)
		fprintf(out,
		        "audit: OK: the log (%" PRIu64 " entries) and %zu ledgers verified; %zu "
		        "receipts matched their ledgers\n",
		        a.log.entries, a.ledgers_ok, a.receipts_matched);
	if (a.first == TLY_OK && a.unaccounted > 0)
		fprintf(
		    out,
		    "audit: WARNING: %zu charges for released queries are neither contributions "
		    "nor receipts in the log (the WARNING lines above)\n",
		    a.unaccounted);
	if (a.first != TLY_OK)
		fprintf(out, "audit: FAILED: %s: %s\n", finding->file, finding->reason);
	tly_translog_report_fini(&a.log);
	tly_audit_heads_fini(&a.heads);
	tly_roster_fini(&a.roster);
	return a.first;
}

/* ---- the --dir layout ---- */

static int
exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Site numbers of dir's "site-N" folders, sorted. */
static int
by_number(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;
	return (a > b) - (a < b);
}

static tly_err
site_numbers(const char *dir, unsigned **out, size_t *count, char *why, size_t why_len)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	unsigned *numbers = NULL;
	size_t n = 0;

	if (d == NULL) {
		snprintf(why, why_len, "%s: cannot read: %s", dir, strerror(errno));
		return TLY_EIO;
	}
	while ((entry = readdir(d)) != NULL) {
		char *end;
		unsigned long number;
		if (strncmp(entry->d_name, "site-", 5) != 0 || entry->d_name[5] < '1' ||
		    entry->d_name[5] > '9')
			continue;
		number = strtoul(entry->d_name + 5, &end, 10);
		if (*end != '\0' || number > TLY_MAX_PARTY_ID || n == TLY_AUDIT_MAX_LEDGERS)
			continue;
		unsigned *grown = realloc(numbers, (n + 1) * sizeof *grown);
		if (grown == NULL) {
			free(numbers);
			closedir(d);
			return TLY_ENOMEM;
		}
		numbers = grown;
		numbers[n++] = (unsigned)number;
	}
	closedir(d);
	if (n > 0)
		qsort(numbers, n, sizeof *numbers, by_number);
	*out = numbers;
	*count = n;
	return TLY_OK;
}

void
tly_audit_layout_fini(struct tly_audit_layout *layout)
{
	if (layout == NULL)
		return;
	for (size_t i = 0; i < layout->ledger_count; i++)
		free(layout->ledgers[i]);
	free(layout->ledgers);
	memset(layout, 0, sizeof *layout);
}

/* The coordinator's files: from its config when it loads. */
static void
coordinator_files(const char *dir, struct tly_audit_layout *l)
{
	struct tly_coord_config *cfg = malloc(sizeof *cfg);
	struct tly_field_error err;
	char path[TLY_AUDIT_PATH_MAX];

	snprintf(path, sizeof path, "%s/coordinator/coordinator.conf", dir);
	if (cfg != NULL && tly_coord_config_load(cfg, path, &err) == TLY_OK) {
		snprintf(l->log, sizeof l->log, "%s", cfg->log);
		snprintf(l->registry, sizeof l->registry, "%s", cfg->registry);
	} else {
		snprintf(l->log, sizeof l->log, "%s/coordinator/state/transparency.db", dir);
		snprintf(l->registry, sizeof l->registry, "%s/registry.ini", dir);
	}
	free(cfg);
}

/* Site n's ledger: from its node config when it loads. */
static void
site_ledger(const char *dir, unsigned n, char *path, size_t len)
{
	struct tly_node_config cfg;
	struct tly_field_error err;
	char conf[TLY_AUDIT_PATH_MAX];

	snprintf(conf, sizeof conf, "%s/site-%u/node.conf", dir, n);
	if (exists(conf) && tly_node_config_load(&cfg, conf, &err) == TLY_OK) {
		snprintf(path, len, "%s", cfg.ledger);
		tly_node_config_fini(&cfg);
		return;
	}
	snprintf(path, len, "%s/site-%u/state/ledger.db", dir, n);
}

tly_err
tly_audit_layout(const char *dir, struct tly_audit_layout *out, char *why, size_t why_len)
{
	struct tly_audit_layout l;
	unsigned *sites = NULL;
	size_t count = 0;
	char path[TLY_AUDIT_PATH_MAX];
	tly_err rv;

	TLY_REQUIRE(dir != NULL && out != NULL && (why != NULL || why_len == 0));
	memset(&l, 0, sizeof l);
	coordinator_files(dir, &l);
	if ((rv = site_numbers(dir, &sites, &count, why, why_len)) != TLY_OK)
		return rv;
	rv = TLY_ENOMEM;
	if (count > 0 && (l.ledgers = calloc(count, sizeof *l.ledgers)) == NULL)
		goto out;
	for (size_t i = 0; i < count; i++) {
		site_ledger(dir, sites[i], path, sizeof path);
		if (!exists(path)) {
			l.missing_count++;
			continue;
		}
		if ((l.ledgers[l.ledger_count] = strdup(path)) == NULL)
			goto out;
		l.ledger_count++;
	}
	*out = l;
	memset(&l, 0, sizeof l);
	rv = TLY_OK;
out:
	if (rv == TLY_ENOMEM && why_len > 0)
		snprintf(why, why_len, "out of memory");
	tly_audit_layout_fini(&l);
	free(sites);
	return rv;
}

/* ---- the command line ---- */

static const char usage_audit[] =
    "usage: tally audit verify [--strict] --dir DIR\n"
    "       tally audit verify [--strict] --log FILE --registry FILE [--ledger FILE ...]\n"
    "       tally audit explain (--dir DIR | --log FILE) QUERY_ID\n"
    "       tally audit export (--dir DIR | --log FILE --registry FILE) [--out FILE]\n"
    "       tally audit verify --feed FILE (--dir DIR | --registry FILE [--ledger FILE ...])\n"
    "       tally audit dp [OPTIONS]   (tally audit dp --help lists them)\n"
    "\n"
    "verify   check the coordinator's transparency log (hash chain, signatures, the\n"
    "         nodes' receipts, budgets), each node ledger given, that every\n"
    "         receipt in the log matches its node's ledger, and that every charge\n"
    "         for a released query is a contribution or a receipt in the log. Exit\n"
    "         0 when all is good, 1 naming the first bad entry (file, entry, why).\n"
    "         A charge the log does not account for (an answer lost after its\n"
    "         charge, or a coordinator hiding one) is a WARNING line; with\n"
    "         --strict it fails the audit.\n"
    "explain  say in plain words what one release guarantees.\n"
    "export   write the public release feed (every release up to the newest\n"
    "         log head a trust countersigned; docs/FEED.md).\n"
    "verify --feed  check a feed offline: each release against its signed\n"
    "         entry, that none is missing (the head's root), the signatures,\n"
    "         and each --ledger's log heads against it (a split view fails).\n"
    "dp       check the noise empirically: a lower bound on epsilon beside the claim.\n"
    "\n"
    "  --dir DIR        a `tally demo` federation: DIR/registry.ini,\n"
    "                   DIR/coordinator/state/transparency.db and\n"
    "                   DIR/site-N/state/ledger.db (or the paths their configs name)\n"
    "  --log FILE       the transparency log\n"
    "  --registry FILE  the registry of public keys (verify)\n"
    "  --ledger FILE    a node's ledger; repeat for each (verify)\n"
    "  --strict         fail on charges the log does not account for (verify)\n"
    "  --feed FILE      the feed to verify (\"-\": standard input)\n"
    "  --out FILE       where export writes the feed (default: standard output)\n"
    "  --help           this text\n";

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tally audit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage_audit);
	return EXIT_USAGE;
}

struct options {
	const char *dir, *log, *registry, *feed, *out;
	const char *ledgers[TLY_AUDIT_MAX_LEDGERS];
	size_t ledger_count;
	int help, strict;
};

/* Parse the options after the subcommand; positional arguments are left
 * from argv[optind]. Returns -1 when parsing succeeded, else an exit code. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option options[] = {{"dir", required_argument, NULL, 'd'},
	                                        {"log", required_argument, NULL, 'l'},
	                                        {"registry", required_argument, NULL, 'r'},
	                                        {"ledger", required_argument, NULL, 'g'},
	                                        {"help", no_argument, NULL, 'h'},
	                                        {"strict", no_argument, NULL, 's'},
	                                        {"feed", required_argument, NULL, 'f'},
	                                        {"out", required_argument, NULL, 'o'},
	                                        {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof *o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'l':
			o->log = optarg;
			break;
		case 'r':
			o->registry = optarg;
			break;
		case 'g':
			if (o->ledger_count == TLY_AUDIT_MAX_LEDGERS)
				return usage_error("more than %d ledgers", TLY_AUDIT_MAX_LEDGERS);
			o->ledgers[o->ledger_count++] = optarg;
			break;
		case 'h':
			o->help = 1;
			break;
		case 's':
			o->strict = 1;
			break;
		case 'f':
			o->feed = optarg;
			break;
		case 'o':
			o->out = optarg;
			break;
		default:
			return tly_process_bad_option("tally audit", options, argc, argv);
		}
	}
	if (o->help) {
		fputs(usage_audit, stdout);
		return 0;
	}
	return -1;
}

/* A subcommand once its options are parsed: fills layout when it reads
 * --dir (run frees it); returns the exit code. */
typedef int (*subcommand)(const struct options *o, struct tly_audit_layout *layout, int argc,
                          char **argv);

static int
run(int argc, char **argv, subcommand cmd)
{
	struct options *o = calloc(1, sizeof *o);
	struct tly_audit_layout layout;
	int code;

	if (o == NULL)
		return EXIT_FAILED;
	memset(&layout, 0, sizeof layout);
	if ((code = parse_options(argc, argv, o)) < 0)
		code = cmd(o, &layout, argc, argv);
	tly_audit_layout_fini(&layout);
	free(o);
	return code;
}

/* The usage errors of verify: an exit code, or -1 for none. */
static int
verify_misuse(const struct options *o, int argc, char **argv)
{
	if (optind != argc)
		return usage_error("verify: unexpected argument \"%s\"", argv[optind]);
	if (o->out != NULL)
		return usage_error("verify: --out is an option of export");
	if (o->feed != NULL && (o->log != NULL || o->strict))
		return usage_error("verify: --feed takes --registry and --ledger (or --dir), not "
		                   "--log or --strict");
	if (o->feed != NULL && (o->dir == NULL) == (o->registry == NULL))
		return usage_error("verify: --feed FILE needs --registry FILE or --dir DIR");
	if (o->feed != NULL && o->dir != NULL && o->ledger_count > 0)
		return usage_error("verify: --dir finds the ledgers itself; give it alone");
	if (o->feed != NULL)
		return -1;
	if (o->dir != NULL && (o->log != NULL || o->registry != NULL || o->ledger_count > 0))
		return usage_error("verify: --dir finds the files itself; give it alone");
	if (o->dir == NULL && (o->log == NULL || o->registry == NULL))
		return usage_error("verify: give --dir DIR, or --log FILE and --registry FILE");
	return -1;
}

/* The files to verify: those named, or those --dir finds. */
static tly_err
verify_files(const struct options *o, struct tly_audit_layout *layout,
             struct tly_audit_files *files)
{
	char why[512];

	*files =
	    (struct tly_audit_files){o->log, o->registry, o->ledger_count, o->ledgers, o->strict};
	if (o->dir == NULL)
		return TLY_OK;
	if (tly_audit_layout(o->dir, layout, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "tally audit: %s\n", why);
		return TLY_EIO;
	}
	*files = (struct tly_audit_files){layout->log, layout->registry, layout->ledger_count,
	                                  (const char *const *)layout->ledgers, o->strict};
	if (layout->missing_count > 0)
		printf("note: %zu sites have no ledger yet (never answered)\n",
		       layout->missing_count);
	return TLY_OK;
}

static int
verify(const struct options *o, struct tly_audit_layout *layout, int argc, char **argv)
{
	struct tly_audit_finding finding;
	struct tly_audit_files files;
	int code;

	if ((code = verify_misuse(o, argc, argv)) >= 0)
		return code;
	if (verify_files(o, layout, &files) != TLY_OK)
		return EXIT_FAILED;
	if (o->feed != NULL)
		return tly_audit_verify_feed(&(struct tly_audit_feed_args){
		    .registry = files.registry,
		    .feed = o->feed,
		    .ledger_count = files.ledger_count,
		    .ledgers = files.ledgers,
		});
	if (tly_audit_verify(&files, stdout, &finding) != TLY_OK) {
		fprintf(stderr, "tally audit: %s: %s\n", finding.file, finding.reason);
		return EXIT_FAILED;
	}
	return 0;
}

/* The usage errors of explain, and the query id: an exit code, or -1. */
static int
explain_misuse(const struct options *o, int argc, char **argv,
               uint8_t query_id[static TLY_QUERY_ID_BYTES])
{
	if (o->registry != NULL || o->ledger_count > 0 || o->feed != NULL || o->out != NULL)
		return usage_error("explain: takes --dir or --log, and a query id");
	if (o->strict)
		return usage_error("explain: --strict is an option of verify");
	if ((o->dir == NULL) == (o->log == NULL))
		return usage_error("explain: give one of --dir DIR and --log FILE");
	if (optind + 1 != argc)
		return usage_error("explain: give exactly one QUERY_ID");
	if (tly_unhex(query_id, TLY_QUERY_ID_BYTES, argv[optind], strlen(argv[optind])) != TLY_OK)
		return usage_error("explain: \"%.80s\" is not a query id (32 hex digits)",
		                   argv[optind]);
	return -1;
}

static int
explain(const struct options *o, struct tly_audit_layout *layout, int argc, char **argv)
{
	uint8_t query_id[TLY_QUERY_ID_BYTES];
	char why[512];
	int code;

	if ((code = explain_misuse(o, argc, argv, query_id)) >= 0)
		return code;
	if ((o->dir != NULL && tly_audit_layout(o->dir, layout, why, sizeof why) != TLY_OK) ||
	    tly_audit_explain(o->dir != NULL ? layout->log : o->log, query_id, stdout, why,
	                      sizeof why) != TLY_OK) {
		fprintf(stderr, "tally audit: %s\n", why);
		return EXIT_FAILED;
	}
	return 0;
}

static int export(const struct options *o, struct tly_audit_layout *layout, int argc, char **argv)
{
	char why[512];

	if (optind != argc)
		return usage_error("export: unexpected argument \"%s\"", argv[optind]);
	if (o->feed != NULL || o->ledger_count > 0 || o->strict)
		return usage_error("export: takes --dir, or --log and --registry, and --out");
	if (o->dir != NULL ? (o->log != NULL || o->registry != NULL)
	                   : (o->log == NULL || o->registry == NULL))
		return usage_error("export: give --dir DIR, or --log FILE and --registry FILE");
	if (o->dir != NULL && tly_audit_layout(o->dir, layout, why, sizeof why) != TLY_OK) {
		fprintf(stderr, "tally audit: %s\n", why);
		return EXIT_FAILED;
	}
	return tly_audit_export(&(struct tly_audit_feed_args){
	    .log = o->dir != NULL ? layout->log : o->log,
	    .registry = o->dir != NULL ? layout->registry : o->registry,
	    .out = o->out,
	});
}

int
tly_audit_command(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_audit, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_audit, stdout);
		return 0;
	}
	if (strcmp(argv[1], "verify") == 0)
		return run(argc - 1, argv + 1, verify);
	if (strcmp(argv[1], "explain") == 0)
		return run(argc - 1, argv + 1, explain);
	if (strcmp(argv[1], "export") == 0)
		return run(argc - 1, argv + 1, export);
	if (strcmp(argv[1], "dp") == 0)
		return tly_audit_dp_command(argc - 1, argv + 1);
	static const char *const names[] = {"verify", "explain", "export", "dp"};
	return tly_process_unknown("tally audit", argv[1], names, 4);
}
