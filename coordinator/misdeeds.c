/*
 * misdeeds.c - the accounting of misbehaving nodes
 *
 * Each kind of misbehaviour is logged once per node and query (or flood
 * window) and counted; the counts are named in the query's transparency
 * log entry. A node that floods refused messages is disconnected.
 *
 * coordinator/server_impl.h holds the state all four files share.
 */
#include "coordinator/server_impl.h"

#include <stdio.h>
#include <string.h>

static const char *const misdeed_names[MISDEED_KINDS] = {
    [MISDEED_MALFORMED] = "malformed or misattributed messages",
    [MISDEED_UNVERIFIED] = "messages whose signature does not verify",
    [MISDEED_OTHER_QUERY] = "messages for a query that is not running (replayed, late or "
                            "foreign)",
    [MISDEED_LAYOUT] = "messages of the wrong length or layout",
    [MISDEED_RANGE] = "messages with a field element >= p",
    [MISDEED_REPLAY] = "replayed or duplicate messages",
    [MISDEED_NOT_ALLOWED] = "messages it may not send (wrong role, set or key)",
    [MISDEED_OUT_OF_ROUND] = "messages out of round (late or early)",
    [MISDEED_COMPLAINED] = "complaints against it by a member (share missing, unopenable or "
                           "with an element >= p)",
    [MISDEED_FLOOD] = "disconnections for flooding",
};

/* ---- misbehaving nodes ---- */

void
srv_misdeed_note(struct server *s, uint32_t node, enum misdeed_kind kind)
{
	struct running *r = s->current;
	struct misdeed *m = NULL;

	for (size_t i = 0; r != NULL && i < r->misdeed_count && m == NULL; i++)
		if (r->misdeeds[i].node == node && r->misdeeds[i].kind == kind)
			m = &r->misdeeds[i];
	if (r != NULL && m == NULL && r->misdeed_count < MISDEEDS_MAX) {
		m = &r->misdeeds[r->misdeed_count++];
		*m = (struct misdeed){node, kind, 0};
	} else if (r != NULL && m == NULL) {
		r->misdeeds_lost++;
		return;
	}
	if (m != NULL && m->count++ == 0)
		srv_note("query %s: node %u: %s (logged once; counted in the log entry)", r->qid,
		         node, misdeed_names[kind]);
}

static struct peer_window *
window_of(struct server *s, uint32_t node)
{
	const struct tly_party *party = tly_roster_find(&s->roster, node);

	if (party == NULL || s->windows == NULL)
		return NULL;
	struct peer_window *w = &s->windows[party - s->roster.parties];
	uint64_t now = srv_now_ms();
	if (now - w->start >= FLOOD_WINDOW_MS) {
		if (w->idle_refused > 1)
			srv_note("node %u: %llu messages for no running query in the last window",
			         node, (unsigned long long)w->idle_refused);
		w->start = now;
		w->refused = w->idle_refused = 0;
	}
	return w;
}

/* A message from `node` was refused: count it against the node, name it
 * in the running query, and cut off a node that floods. */
void
srv_refused_from(struct server *s, uint32_t node, enum misdeed_kind kind)
{
	struct peer_window *w = window_of(s, node);

	if (s->current != NULL && kind != MISDEED_OTHER_QUERY) {
		srv_misdeed_note(s, node, kind);
	} else if (w != NULL && w->idle_refused++ == 0) {
		srv_note("node %u: dropped a message for a query that is not running (more are "
		         "counted per window)",
		         node);
		if (s->current != NULL)
			srv_misdeed_note(s, node, kind);
	} else if (s->current != NULL) {
		srv_misdeed_note(s, node, kind);
	}
	if (w == NULL || ++w->refused <= FLOOD_REFUSED_MAX)
		return;
	char why[120];
	snprintf(why, sizeof why, "over %d refused messages in %d ms", FLOOD_REFUSED_MAX,
	         FLOOD_WINDOW_MS);
	size_t dropped = tly_hub_disconnect(s->hub, node, FLOOD_HOLD_MS, why);
	s->flood_dropped += dropped;
	srv_note(
	    "node %u: disconnected for flooding (%s); %zu queued messages dropped unread; held "
	    "off for %d ms",
	    node, why, dropped, FLOOD_HOLD_MS);
	if (s->current != NULL)
		srv_misdeed_note(s, node, MISDEED_FLOOD);
	w->refused = 0;
}

enum misdeed_kind
srv_misdeed_of(tly_err rv)
{
	switch (rv) {
	case TLY_EFORMAT:
		return MISDEED_LAYOUT;
	case TLY_ERANGE:
		return MISDEED_RANGE;
	case TLY_EREPLAY:
		return MISDEED_REPLAY;
	case TLY_ESTATE:
		return MISDEED_OUT_OF_ROUND;
	case TLY_EAUTH:
		return MISDEED_UNVERIFIED;
	default:
		return MISDEED_NOT_ALLOWED;
	}
}

/* The query's misbehaviour for its log entry: every (node, kind) count,
 * and why each participant outside the total is out. */
void
srv_misdeed_summary(const struct running *r, const struct tly_idlist *contributors, char *out,
                    size_t len)
{
	size_t used = 0;

	out[0] = '\0';
#define APPEND(...)                                                                                \
	do {                                                                                       \
		if (used < len) {                                                                  \
			int n = snprintf(out + used, len - used, __VA_ARGS__);                     \
			used += n > 0 ? (size_t)n : 0;                                             \
		}                                                                                  \
	} while (0)
	for (size_t i = 0; i < r->misdeed_count; i++)
		APPEND("%snode %u: %llu %s", used ? "; " : "", r->misdeeds[i].node,
		       (unsigned long long)r->misdeeds[i].count,
		       misdeed_names[r->misdeeds[i].kind]);
	if (r->misdeeds_lost > 0)
		APPEND("%s%llu more", used ? "; " : "", (unsigned long long)r->misdeeds_lost);
	for (uint32_t i = 0; i < r->query.participants.count && r->shares_from != NULL; i++) {
		uint32_t id = r->participants[i];
		if (contributors != NULL && tly_idlist_contains(contributors, id))
			continue;
		if (r->query.protocol != TLY_PROTOCOL_COMMITTEE)
			continue; /* masking: who dropped is in the entry's lists */
		if (r->shares_from[i] < r->query.committee.count)
			APPEND("%snode %u: %u of %u shares before the deadline", used ? "; " : "",
			       id, r->shares_from[i], r->query.committee.count);
		else if (contributors != NULL)
			APPEND("%snode %u: left out after a complaint", used ? "; " : "", id);
	}
#undef APPEND
	if (used >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}
