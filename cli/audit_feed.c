/* `tally audit export` and `tally audit verify --feed` (audit_feed.h). */
#include "audit_feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "coordinator/feed.h"
#include "coordinator/translog.h"
#include "node/ledger.h"
#include "node/ledger_heads.h"
#include "store/keys.h"
#include "store/merkle.h"
#include "wire/hex.h"

enum { EXIT_FAILED = 1 };

static int
failed(const char *fmt, const char *a, const char *b)
{
	fputs("tally audit: ", stderr);
	fprintf(stderr, fmt, a, b);
	fputc('\n', stderr);
	return EXIT_FAILED;
}

/* The registry's keys and the trusts' names. */
static int
load_registry(const char *path, struct tly_roster *roster, struct tly_feed_names *names)
{
	char why[512];

	if (tly_registry_load(roster, path, why, sizeof why) != TLY_OK)
		return failed("%s: %s", path, why);
	if (tly_feed_names_load(names, path, why, sizeof why) != TLY_OK) {
		tly_roster_fini(roster);
		fprintf(stderr, "tally audit: %s\n", why); /* why names the file */
		return EXIT_FAILED;
	}
	return 0;
}

/* text[0..len) into path through path.tmp, synced, then renamed. */
static int
write_file(const char *path, const char *text, size_t len)
{
	size_t n = strlen(path) + 5;
	char *temp = malloc(n);
	FILE *f = NULL;
	int ok = 0;

	if (temp != NULL) {
		snprintf(temp, n, "%s.tmp", path);
		ok = (f = fopen(temp, "w")) != NULL && fwrite(text, 1, len, f) == len &&
		     fflush(f) == 0 && fsync(fileno(f)) == 0;
		ok = (f != NULL && fclose(f) == 0) && ok && rename(temp, path) == 0;
		if (!ok)
			unlink(temp);
	}
	free(temp);
	return ok ? 0 : failed("%s: cannot write the feed%s", path, "");
}

int
tly_audit_export(const struct tly_audit_feed_args *args)
{
	struct tly_roster roster = {0};
	struct tly_feed_names names = {0, NULL};
	struct tly_translog *log = NULL;
	char why[512], *json = NULL;
	size_t len = 0;
	int code;

	if ((code = load_registry(args->registry, &roster, &names)) != 0)
		return code;
	if (tly_translog_open_readonly(&log, args->log, why, sizeof why) != TLY_OK ||
	    tly_feed_export(log, &roster, &names, &json, &len, why, sizeof why) != TLY_OK) {
		code = failed("%s: %s", args->log, why);
		goto out;
	}
	if (args->out != NULL)
		code = write_file(args->out, json, len);
	else if (fwrite(json, 1, len, stdout) != len || fflush(stdout) != 0)
		code = failed("%s%s: cannot write the feed", "", "stdout");
	if (code == 0 && args->out != NULL)
		fprintf(stderr, "tally audit: wrote %s (%zu bytes)\n", args->out, len);
out:
	free(json);
	tly_translog_close(log);
	tly_feed_names_fini(&names);
	tly_roster_fini(&roster);
	return code;
}

/* The feed file's bytes (at most TLY_FEED_MAX_BYTES + 1, so that a longer
 * one is refused by its length), malloc'd. */
static int
read_feed(const char *path, char **text, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	char *buf = NULL, *grown;

	if (f == NULL)
		return failed("%s: %s", path, "cannot open the feed");
	while ((grown = realloc(buf, cap + 1)) != NULL) {
		buf = grown;
		n += fread(buf + n, 1, cap - n, f);
		if (n < cap || cap > TLY_FEED_MAX_BYTES)
			break;
		cap *= 2;
	}
	int bad = grown == NULL || ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		free(buf);
		return failed("%s: %s", path, "cannot read the feed");
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* Each head of the ledger at path: signed by the coordinator, and when the
 * feed reaches its size, the root of the feed's first `size` entries. */
static int
check_ledger(const char *path, const struct tly_roster *roster, const struct tly_feed_report *r)
{
	struct tly_ledger *ledger = NULL;
	struct tly_ledger_head *heads = NULL;
	uint8_t root[TLY_MERKLE_HASH_BYTES];
	size_t count = 0, compared = 0;
	char why[512];
	int code = 0;

	if (tly_ledger_open_readonly(&ledger, path, why, sizeof why) != TLY_OK)
		return failed("%s: %s", path, why);
	if (tly_ledger_heads(ledger, &heads, &count) != TLY_OK)
		code = failed("%s: %s", path, "cannot read its log heads");
	for (size_t i = 0; code == 0 && i < count; i++) {
		const struct tly_tree_head *h = &heads[i].head;
		if (tly_head_verify(h, roster->coordinator_pk) != TLY_OK) {
			printf("ledger %s: FAILED: a head of size %llu is not signed by the "
			       "coordinator\n",
			       path, (unsigned long long)h->size);
			code = failed("%s: %s", path, "a log head not signed by the coordinator");
			break;
		}
		if (h->size > r->head.size + r->tail)
			continue;
		tly_merkle_root(root, r->leaves, h->size);
		if (sodium_memcmp(root, h->root, sizeof root) != 0) {
			printf("ledger %s: FAILED: its head of size %llu is not the feed's first "
			       "%llu entries: the trusts were shown another log (a split view)\n",
			       path, (unsigned long long)h->size, (unsigned long long)h->size);
			code = failed("%s: %s", path, "split view: a head the feed does not match");
			break;
		}
		compared++;
	}
	if (code == 0)
		printf("ledger %s: %zu log heads match the feed, %zu newer than it\n", path,
		       compared, count - compared);
	free(heads);
	tly_ledger_close(ledger);
	return code;
}

static void
print_good(const char *path, const struct tly_feed_report *r)
{
	char root[2 * TLY_MERKLE_HASH_BYTES + 1];

	tly_hex(root, r->head.root, sizeof r->head.root);
	printf("feed %s: %llu entries, %llu releases; every release matches its signed entry\n",
	       path, (unsigned long long)r->entries, (unsigned long long)r->releases);
	printf("feed %s: head of size %llu, root %.16s..., signed by the coordinator and "
	       "countersigned by node %u: the feed lists every release up to it\n",
	       path, (unsigned long long)r->head.size, root, r->witness);
	if (r->tail > 0)
		printf(
		    "feed %s: %llu newer releases after the head, each signed by the coordinator "
		    "and chained to the log; no trust has countersigned a head over them yet\n",
		    path, (unsigned long long)r->tail);
}

int
tly_audit_verify_feed(const struct tly_audit_feed_args *args)
{
	struct tly_roster roster = {0};
	struct tly_feed_names names = {0, NULL};
	struct tly_feed_report report;
	char *text = NULL;
	size_t len = 0;
	int code;

	memset(&report, 0, sizeof report);
	if ((code = load_registry(args->registry, &roster, &names)) != 0)
		return code;
	if ((code = read_feed(args->feed, &text, &len)) != 0)
		goto out;
	if (tly_feed_verify(text, len, &roster, &names, &report) != TLY_OK) {
		printf("feed %s: FAILED: %s\n", args->feed, report.reason);
		code = failed("%s: %s", args->feed, report.reason);
		goto out;
	}
	print_good(args->feed, &report);
	for (size_t i = 0; i < args->ledger_count && code == 0; i++)
		code = check_ledger(args->ledgers[i], &roster, &report);
	if (code == 0)
		printf("feed %s: verified\n", args->feed);
out:
	tly_feed_report_fini(&report);
	free(text);
	tly_feed_names_fini(&names);
	tly_roster_fini(&roster);
	return code;
}
